import { test } from "node:test";
import assert from "node:assert/strict";
import { sharpnessRatio, looksBlurred, backgroundShare, TEXT_BACKGROUND_SHARE } from "../../extension/lib/sharpness.js";

const [W, H] = [160, 88];

// Lines of "words" made of 1-px strokes and bars on white, like text at about 12 px.
function textCard() {
  const gray = new Float32Array(W * H).fill(255);
  for (let y = 0; y < H; y += 1) {
    for (let x = 4; x < W - 4; x += 1) {
      const [ly, lx] = [y % 22, x % 30];
      if (ly >= 4 && ly < 16 && lx < 22 && (lx % 5 === 0 || ly === 4 || ly === 10)) gray[y * W + x] = 20;
    }
  }
  return gray;
}

function photo() {
  const gray = new Float32Array(W * H);
  for (let y = 0; y < H; y += 1) {
    for (let x = 0; x < W; x += 1) gray[y * W + x] = 128 + 100 * Math.sin(x / 9) * Math.cos(y / 7);
  }
  return gray;
}

function gaussianBlur(gray, sigma) {
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-0.5 * ((i - radius) / sigma) ** 2));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (src, dx, dy) => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < H; y += 1) {
      for (let x = 0; x < W; x += 1) {
        let acc = 0;
        for (let k = -radius; k <= radius; k += 1) {
          const xx = Math.min(W - 1, Math.max(0, x + k * dx));
          const yy = Math.min(H - 1, Math.max(0, y + k * dy));
          acc += kernel[k + radius] * src[yy * W + xx];
        }
        out[y * W + x] = acc / total;
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

test("sharp text is not blurred; Gaussian-blurred text is", () => {
  const sharp = textCard();
  assert.equal(looksBlurred(toRgba(sharp), W, H), false);
  for (const sigma of [1.5, 3, 6]) {
    const blurred = toRgba(gaussianBlur(sharp, sigma));
    assert.equal(looksBlurred(blurred, W, H), true, `sigma ${sigma}`);
    assert.ok(sharpnessRatio(blurred, W, H) < sharpnessRatio(toRgba(sharp), W, H));
  }
});

test("a smooth photo is soft but has no plain background, so it is not taken for blurred text", () => {
  const rgba = toRgba(photo());
  assert.ok(sharpnessRatio(rgba, W, H) < 0.35);
  assert.ok(backgroundShare(rgba, W, H) < TEXT_BACKGROUND_SHARE);
  assert.equal(looksBlurred(rgba, W, H), false);
});

test("flat or tiny images cannot be judged", () => {
  assert.equal(sharpnessRatio(toRgba(new Float32Array(64 * 64).fill(128)), 64, 64), null);
  assert.equal(sharpnessRatio(toRgba(new Float32Array(9).fill(0)), 3, 3), null);
  assert.equal(looksBlurred(toRgba(new Float32Array(64 * 64).fill(128)), 64, 64), false);
});
