import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCpuKernels } from '../../register_all_kernels.js';
import { convCases, convTensors, describeCase, weightHeavyConvCases } from '../test_utils/kernel_compare.js';
import { cpuConv2DBackpropFilterConfig, stockCpuConv2DBackpropFilter } from './Conv2DBackpropFilter.js';

describe('Conv2DBackpropFilter on cpu (the fast copy of the stock kernel)', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('is registered by registerCpuKernels and gives bit for bit what tfjs-backend-cpu gives, for every padding, stride, filter size, NHWC and NCHW', async () => {
    await tf.setBackend('cpu');
    registerCpuKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')?.kernelFunc).toBe(cpuConv2DBackpropFilterConfig.kernelFunc);
    const stock = stockCpuConv2DBackpropFilter();
    expect(stock.kernelFunc).not.toBe(cpuConv2DBackpropFilterConfig.kernelFunc);
    const run = (kernel: tf.KernelConfig, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>): Float32Array => {
      const backend = tf.backend();
      const info = kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
      const values = (backend.readSync(info.dataId) as Float32Array).slice();
      backend.disposeData(info.dataId);
      return values;
    };
    const mismatches: string[] = [];
    let checked = 0;
    for (const c of [...convCases(303, 40), ...weightHeavyConvCases(304, 8)]) {
      const { x, filter, dy, attrs } = convTensors(c, false);
      for (const dataFormat of ['NHWC', 'NCHW'] as const) {
        const [xi, dyi] = dataFormat === 'NHWC' ? [x, dy] : [tf.transpose(x, [0, 3, 1, 2]), tf.transpose(dy, [0, 3, 1, 2])];
        // tfjs's NCHW path takes explicit padding in NCHW order.
        const pad = Array.isArray(c.pad) && dataFormat === 'NCHW' ? [c.pad[0], c.pad[3], c.pad[1], c.pad[2]] : c.pad;
        const a = { ...attrs, pad, dataFormat, filterShape: filter.shape };
        const ours = run(cpuConv2DBackpropFilterConfig, { x: xi, dy: dyi }, a);
        const theirs = run(stock, { x: xi, dy: dyi }, a);
        const same = ours.length === theirs.length && ours.every((v, i) => Object.is(v, theirs[i]));
        if (!same) mismatches.push(`${describeCase(c)} ${dataFormat}`);
        checked++;
        if (dataFormat === 'NCHW') tf.dispose([xi, dyi]);
      }
      tf.dispose([x, filter, dy]);
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(2 * (11 + 40 + 13));
  });
});
