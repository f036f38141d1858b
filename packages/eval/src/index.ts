/**
 * @faceshifter/eval: evaluation of face swaps (ID retrieval, pose and expression error) and swapping on real photos.
 * This file is the package's whole public API.
 */
export {};
