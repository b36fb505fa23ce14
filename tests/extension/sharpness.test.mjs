import { test } from "node:test";
import assert from "node:assert/strict";
import { sharpnessRatio, looksBlurred } from "../../extension/lib/sharpness.js";

// A test card of black strokes on white, then the same card blurred with a Gaussian.
function strokes(width, height) {
  const gray = new Float32Array(width * height).fill(255);
  for (let y = 4; y < height - 4; y += 1) {
    for (let x = 4; x < width - 4; x += 1) {
      if (x % 9 < 2 || (y % 11 < 2 && x % 23 < 15)) gray[y * width + x] = 0;
    }
  }
  return gray;
}

function gaussianBlur(gray, width, height, sigma) {
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-0.5 * ((i - radius) / sigma) ** 2));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (src, dx, dy) => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        let acc = 0;
        for (let k = -radius; k <= radius; k += 1) {
          const xx = Math.min(width - 1, Math.max(0, x + k * dx));
          const yy = Math.min(height - 1, Math.max(0, y + k * dy));
          acc += kernel[k + radius] * src[yy * width + xx];
        }
        out[y * width + x] = acc / total;
      }
    }
    return out;
  };
  return pass(pass(gray, 1, 0), 0, 1);
}

function toRgba(gray) {
  const rgba = new Uint8ClampedArray(gray.length * 4);
  gray.forEach((v, i) => rgba.set([v, v, v, 255], 4 * i));
  return rgba;
}

test("sharp strokes are not blurred; Gaussian-blurred strokes are", () => {
  const [w, h] = [96, 48];
  const sharp = strokes(w, h);
  assert.equal(looksBlurred(toRgba(sharp), w, h), false);
  for (const sigma of [1.5, 3, 6]) {
    assert.equal(looksBlurred(toRgba(gaussianBlur(sharp, w, h, sigma)), w, h), true, `sigma ${sigma}`);
  }
  assert.ok(sharpnessRatio(toRgba(gaussianBlur(sharp, w, h, 3)), w, h) < sharpnessRatio(toRgba(sharp), w, h));
});

test("flat or tiny images cannot be judged", () => {
  assert.equal(sharpnessRatio(toRgba(new Float32Array(64 * 64).fill(128)), 64, 64), null);
  assert.equal(sharpnessRatio(toRgba(new Float32Array(9).fill(0)), 3, 3), null);
  assert.equal(looksBlurred(toRgba(new Float32Array(64 * 64).fill(128)), 64, 64), false);
});
