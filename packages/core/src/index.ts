/**
 * @faceshifter/core: the FaceShifter layer library (AEI-Net, HEAR-Net, the multi-scale discriminator), the face
 * pipeline (detection, alignment, identity encoders, swapping), the weight formats on bytes, and the tfjs backend
 * setup. Everything here is environment-neutral: it runs, and bundles, for Node and for browsers alike (a test
 * bundles it with esbuild --platform=browser). The file system, sharp, the packaged model files on disk and the
 * command lines are in `@faceshifter/core/node` (src/node/), which re-exports all of this too.
 */

// The host's adapters (model files, weights paths, the face-api build): Node's are installed by '@faceshifter/core/node'.
export { installPlatform, platform } from './platform.js';
export type { PlatformAdapters } from './platform.js';
export { CORE_VERSION } from './version.js';

// Backends: selection, and the wasm training kernels it registers.
export {
  selectBackend,
  BackendUnavailableError,
  BACKEND_CHOICES,
  THREADS_OPTION,
  MAX_WASM_THREADS,
  parseThreads,
  defaultWasmThreads,
  logicalCores,
} from './backend/select_backend.js';
export type { BackendRequest, BackendName, SelectBackendOptions } from './backend/select_backend.js';
export { registerCpuKernels, registerWasmTrainingKernels } from './backend/register_all_kernels.js';
export { probeWebGPUAdapter, describeWebGPUAdapter, currentWebGPUAdapter } from './backend/webgpu.js';
export type { WebGPUAdapter } from './backend/webgpu.js';

// Images: a PNG codec with tEXt chunks (sample grids, and the synthetic-content mark on every swap).
export { encodePng, decodePng, readPngText } from './image/png.js';
export type { RawImage } from './image/png.js';

// Layers: FaceShifter's building blocks as serialisable tfjs layers (usable in any tf.model, save/load intact).
export { AADLayer } from './layers/aad.js';
export type { AADLayerArgs } from './layers/aad.js';
export { AADResBlk } from './layers/aad_resblk.js';
export type { AADResBlkArgs } from './layers/aad_resblk.js';
export { InstanceNorm, instanceNormalize, spatialMean } from './layers/instance_norm.js';
export type { InstanceNormArgs } from './layers/instance_norm.js';
export { ConcatIntegration } from './layers/concat_integration.js';
export type { ConcatIntegrationArgs } from './layers/concat_integration.js';
export { UpsampleBilinear } from './layers/upsample_bilinear.js';
export type { UpsampleBilinearArgs } from './layers/upsample_bilinear.js';
export { AvgPoolExcludePad } from './layers/avg_pool_exclude_pad.js';
export type { AvgPoolExcludePadArgs } from './layers/avg_pool_exclude_pad.js';
export { deriveSeed, xavierNormal } from './layers/initializers.js';

// Models: the networks (tfjs LayersModels), their channel plan, and their weights by name.
export { MultilevelAttributeEncoder } from './models/attribute_encoder.js';
export { AADGenerator } from './models/aad_generator.js';
export { AEINet } from './models/aei_net.js';
export type { AEIOutput } from './models/aei_net.js';
export { HEARNet } from './models/hear_net.js';
export { NLayerDiscriminator, patchGANConvs } from './models/nlayer_discriminator.js';
export type { PatchGANConv } from './models/nlayer_discriminator.js';
export { MultiscaleDiscriminator } from './models/multiscale_discriminator.js';
export { planAEI, replayModel } from './models/builder.js';
export type { AEIPlan, BuildOptions, EncoderDown, EncoderUp, GeneratorBlock } from './models/builder.js';
export { namedWeights, referenceName, countTrainableParams, weightedLayers } from './models/named_weights.js';
export type { NamedWeight, WeightKind } from './models/named_weights.js';
export { summarizeNetwork, summarizeModelConfig, formatSummary, buildNetworks, SUMMARIZED_NETWORKS } from './models/summary.js';
export type { NetworkSummary, SummaryRow, Networks, SummarizedNetwork } from './models/summary.js';

// Config: the typed model section, its presets and validation; the schema helpers the train package reuses.
export { resolveModelConfig, modelSection, modelConfigFromDocument, modelConfigFromYaml, parseYamlText, modelConfigSchema, MODEL_PRESETS, MODEL_PRESET_VALUES } from './config/model_config.js';
export type { ModelConfig, ModelConfigInput, ModelPresetName, AADConfig, GeneratorConfig, DiscriminatorConfig, AADMaskMode, AADNorm, DiscriminatorNorm } from './config/model_config.js';
export * as schema from './config/schema.js';
export { ConfigError } from './config/schema.js';

// Faces: detection + 68 landmarks (face-api), 5-point reduction, FFHQ-style similarity alignment, paste-back.
export { loadFaceDetector, FaceDetector } from './faces/detector.js';
export type { DetectedFace, DetectOptions } from './faces/detector.js';
export { reduceLandmarks68, eyeDistance } from './faces/landmarks.js';
export { FFHQ_TEMPLATE, DEFAULT_LANDMARK_WEIGHTS, estimateSimilarity, alignmentTransform, alignFace, warpAffine, pasteBack, applyAffine, invertAffine, affineScale } from './faces/alignment.js';
export type { Point, Landmarks5, Affine, AlignedFace, BorderMode, PasteBackOptions } from './faces/alignment.js';
export {
  FACE_ALIGNMENTS,
  DEFAULT_FACE_ALIGNMENT,
  isFaceAlignment,
  parseFaceAlignment,
  alignmentSpec,
  alignFaceAs,
  namedAlignmentTransform,
  referenceTemplatePixels,
  insightfaceTemplatePixels,
  INSIGHTFACE_PYTORCH_POINTS_96x112,
  fromPixelIndices,
} from './faces/templates.js';
export type { FaceAlignment, AlignmentSpec } from './faces/templates.js';
export { CHANNEL_ORDERS, DEFAULT_FACE_INPUT, REFERENCE_FACE_INPUT, parseFaceInput, toChannelOrder, describeFaceInput } from './faces/face_input.js';
export type { ChannelOrder, FaceInput } from './faces/face_input.js';
export { imageToTensor, tensorToImage, ImageDecodeError, IMAGE_EXTENSIONS } from './image/raw_image.js';
// The packaged model files (face-api, Human), from wherever the host keeps them: node_modules, or a web app's folder.
export { urlModelFiles, loadFaceApiWeights, loadGraphModelFiles, loadPackageGraphModel } from './faces/model_files.js';
export type { ModelFiles, ModelPackage, GraphModelFiles, GraphNode } from './faces/model_files.js';

// Video: face tracks across frames and the One-Euro filter that smooths their landmarks.
export { OneEuroFilter, DEFAULT_ONE_EURO } from './video/one_euro.js';
export type { OneEuroParams } from './video/one_euro.js';
export { FaceTracker, DEFAULT_TRACKER, appearanceDescriptor, chooseTrack, iou } from './video/face_tracker.js';
export type { Box, FrameFace, FaceTrack, TrackerOptions } from './video/face_tracker.js';
export { ClipFaceTracker, smoothTrackLandmarks, boxOf, followBox } from './video/clip_faces.js';
export type { ClipFaceTrackerOptions, SmoothedLandmarks } from './video/clip_faces.js';

// Swapping whole photos (the same pipeline for `yarn swap` and the web app) and the synthetic-image mark.
export { FaceSwapPipeline, checkLandmarksInside } from './swap/face_swap_pipeline.js';
export type { FaceSwapPipelineOptions, FaceSelection, AnalysedPhoto, SwapResult } from './swap/face_swap_pipeline.js';
export { faceMask, outlineFrom5, convexHull, insideDistance } from './swap/mask.js';
export type { FaceMaskOptions } from './swap/mask.js';
export { swapMark } from './swap/mark.js';
export type { SwapMarkInfo } from './swap/mark.js';

// Identity encoders (z_id): frozen, differentiable w.r.t. the input, loaded offline from the pinned npm packages.
export { loadIdentityEncoder, IDENTITY_ENCODERS, identityEncoderDim, identityEncoderNeedsWeights } from './identity/registry.js';
export type { LoadIdentityEncoderOptions } from './identity/registry.js';
export type { IdentityEncoder, IdentityEncoderName } from './identity/identity_encoder.js';
export { FrozenFaceEncoder, l2Normalize } from './identity/identity_encoder.js';
export { FaceApiRecognition, loadFaceApiRecognition, FACE_API_CROP } from './identity/face_api_recognition.js';
export { HumanFaceres, loadHumanFaceres, FACERES_CROP } from './identity/human_faceres.js';
export { CentredIdentityEncoder, identityMean } from './identity/centred_encoder.js';
export { CropResize } from './identity/crop.js';
export type { CropBox } from './identity/crop.js';
// InsightFace networks from PyTorch weights: IR/IR-SE Backbone (ArcFace, the paper's z_id), arcface_torch iresnet
export { InsightFaceEncoder, createInsightFaceEncoder, buildInsightFaceNetwork, insightFaceKeys, INSIGHTFACE_ENCODERS, INSIGHTFACE_ENCODER_NAMES, isInsightFaceEncoder } from './identity/insightface_encoder.js';
export type { InsightFaceEncoderName, FaceRecognitionNetwork, InsightFaceEncoderOptions } from './identity/insightface_encoder.js';
export { InsightFaceIR, irArchitecture, irKeys, inferIRArchitecture, IR_DEPTH_UNITS } from './identity/insightface_ir.js';
export type { IRArchitecture, IRMode } from './identity/insightface_ir.js';
export { IResNet, iresnetArchitecture, iresnetKeys, inferIResNetArchitecture, IRESNET_DEPTH_LAYERS } from './identity/iresnet.js';
export type { IResNetArchitecture } from './identity/iresnet.js';
export { parameterCount } from './identity/torch_frozen.js';
export type { TorchKey } from './identity/torch_frozen.js';
export { AffineSampler, ARCFACE_TEMPLATE_112, FACESHIFTER_TEMPLATE_256, inputMap, networkTemplate, nativeCropAlignment, templateLandmarkError } from './identity/template_warp.js';
export type { EncoderInputAlignment, NetworkAlignment } from './identity/template_warp.js';

// Weights on bytes: safetensors, tfjs ↔ PyTorch layouts, this project's checkpoints, the PyTorch reference's names.
export { parseSafetensors, encodeSafetensors, concatChunks, SafetensorsError } from './weights/safetensors.js';
export type { SafetensorsDtype, SafetensorsData, SafetensorsTensor, SafetensorsEntry, SafetensorsFile } from './weights/safetensors.js';
// PyTorch .pth files (torch.save zip and legacy) read without running anything from them; either format by content.
export { parsePth, isPth, PthError } from './weights/pth.js';
export type { ParsePthOptions } from './weights/pth.js';
export { unpickle, PickleError, UnsafePickleError, PyTuple, PyGlobal } from './weights/pickle.js';
export { parseWeights } from './weights/weights_file.js';
export type { ReadWeightsOptions } from './weights/weights_file.js';
export { toTorchLayout, fromTorchLayout, torchShape, ourShapeFromTorch, permuteAxes } from './weights/layout.js';
export type { LayoutKind } from './weights/layout.js';
export { NETWORK_NAMES, referenceTensors, exportReferenceTensors, importReferenceTensors, detectReferenceNetwork } from './weights/reference_mapping.js';
export { weightsKind, expectReferenceNetwork, inferAEIConfig, inferHEARConfig, referenceFaceInput, loadReferenceAEI, loadReferenceHEAR, expectIdentityWeights } from './weights/reference_config.js';
export type { WeightsKind, ReferenceOptionNames } from './weights/reference_config.js';
export type { NetworkName, ReferenceTensor, ExportReferenceOptions, ImportReferenceOptions } from './weights/reference_mapping.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  META_FILE,
  CONFIG_FILE,
  checkpointFiles,
  readCheckpointFiles,
  loadCheckpointNetworksFromFiles,
  parseCheckpointMeta,
  parseCheckpointConfig,
  buildNetwork,
  networkTensors,
  networkFile,
  checkpointFaceInput,
  CorruptCheckpointError,
} from './weights/checkpoint.js';
export type { CheckpointFileSum, CheckpointMeta, CheckpointNetworks, CheckpointContents, CheckpointSource, SaveCheckpointOptions, LoadedCheckpoint } from './weights/checkpoint.js';
