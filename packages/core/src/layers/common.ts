/** Types and small helpers shared by the layer files. */
import * as tf from '@tensorflow/tfjs';

/** The base constructor arguments of every tfjs layer (name, trainable, inputShape, ...). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
/** The keyword arguments tfjs passes to `Layer.call`, e.g. `{ training: true }`. */
export type Kwargs = Parameters<tf.layers.Layer['call']>[1];

/** The one tensor of a single-input layer. */
export function single<T extends tf.Tensor>(inputs: tf.Tensor | tf.Tensor[]): T {
  return (Array.isArray(inputs) ? inputs[0] : inputs) as T;
}

/** The one shape of a single-input layer. */
export function singleShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
}

/** The shapes of a multi-input layer, checked for count. */
export function shapes(inputShape: tf.Shape | tf.Shape[], count: number, layer: string): tf.Shape[] {
  if (!Array.isArray(inputShape[0]) || inputShape.length !== count) {
    throw new Error(`${layer}: expected ${count} inputs, got ${JSON.stringify(inputShape)}`);
  }
  return inputShape as tf.Shape[];
}
