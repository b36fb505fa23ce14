import { test } from "node:test";
import assert from "node:assert/strict";
import {
  sharpnessRatio, looksBlurred, backgroundShare, TEXT_BACKGROUND_SHARE, judgingPitch, ownPixelsShowAsDrawn, averageDown,
} from "../../extension/lib/sharpness.js";

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

// A picture as a screen shows it at `scale` device px per pixel: bilinear interpolation between
// pixel centres, as browsers scale images.
function shownAt(gray, scale) {
  const [w, h] = [Math.round(W * scale), Math.round(H * scale)];
  const out = new Float32Array(w * h);
  const source = (i, size) => Math.min(size - 1, Math.max(0, (i + 0.5) / scale - 0.5));
  for (let y = 0; y < h; y += 1) {
    const sy = source(y, H);
    const [y0, fy] = [Math.floor(sy), sy - Math.floor(sy)];
    const y1 = Math.min(H - 1, y0 + 1);
    for (let x = 0; x < w; x += 1) {
      const sx = source(x, W);
      const [x0, fx] = [Math.floor(sx), sx - Math.floor(sx)];
      const x1 = Math.min(W - 1, x0 + 1);
      const top = gray[y0 * W + x0] * (1 - fx) + gray[y0 * W + x1] * fx;
      const bottom = gray[y1 * W + x0] * (1 - fx) + gray[y1 * W + x1] * fx;
      out[y * w + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return { gray: out, width: w, height: h };
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

test("on a screen of devicePixelRatio 1.25 to 3 a picture is judged at its own pixels' pitch, not the screen's", () => {
  const sharp = textCard();
  const blurred = gaussianBlur(sharp, 2.5);
  for (const scale of [1.25, 1.5, 2, 3]) {
    const pitch = judgingPitch(scale, 1);
    const [sharpShown, blurredShown] = [shownAt(sharp, scale), shownAt(blurred, scale)];
    assert.equal(looksBlurred(toRgba(sharpShown.gray), sharpShown.width, sharpShown.height, pitch), false, `sharp at ${scale}`);
    assert.equal(looksBlurred(toRgba(blurredShown.gray), blurredShown.width, blurredShown.height, pitch), true, `blurred at ${scale}`);
  }
  // Judged on the screen's own pixels, this sharp picture at devicePixelRatio 3 passes for blurred.
  const shown = shownAt(sharp, 3);
  assert.equal(looksBlurred(toRgba(shown.gray), shown.width, shown.height, 1), true);
});

test("the judging pitch: the picture's pixels where finer than CSS pixels, CSS pixels otherwise, never below a device pixel", () => {
  assert.equal(judgingPitch(1), 1);
  assert.equal(judgingPitch(2), 2); // a background image: its density is unknown, CSS px
  assert.equal(judgingPitch(2, 1), 2);
  assert.equal(judgingPitch(1.25, 1), 1.25); // page zoom 125 %
  assert.equal(judgingPitch(2, 2), 1); // an image made for this screen: one pixel per device px
  assert.equal(judgingPitch(3, 1.5), 2);
  assert.equal(judgingPitch(1, 1 / 3), 1); // scaled up 3x by CSS: judged as it is seen
  assert.equal(judgingPitch(2, 1 / 3), 2);
  assert.equal(judgingPitch(1, 2), 1);
});

test("own pixels tell how a picture looks unless CSS shows it more than 1.25x its size", () => {
  const size = { naturalWidth: 420, naturalHeight: 60 };
  assert.equal(ownPixelsShowAsDrawn({ ...size, shownWidth: 420, shownHeight: 60 }), true);
  assert.equal(ownPixelsShowAsDrawn({ ...size, shownWidth: 525, shownHeight: 75 }), true);
  assert.equal(ownPixelsShowAsDrawn({ ...size, shownWidth: 210, shownHeight: 30 }), true);
  assert.equal(ownPixelsShowAsDrawn({ ...size, shownWidth: 420, shownHeight: 180 }), false);
  assert.equal(ownPixelsShowAsDrawn({ naturalWidth: 140, naturalHeight: 20, shownWidth: 420, shownHeight: 60 }), false);
});

test("averaging down undoes a whole-pixel magnification and keeps the mean at fractional pitches", () => {
  const gray = Float32Array.from({ length: 4 * 3 }, (_, i) => (i * 37) % 255);
  const doubled = new Float32Array(8 * 6);
  for (let y = 0; y < 6; y += 1) for (let x = 0; x < 8; x += 1) doubled[y * 8 + x] = gray[Math.floor(y / 2) * 4 + Math.floor(x / 2)];
  const back = averageDown(doubled, 8, 6, 2);
  assert.deepEqual([back.width, back.height], [4, 3]);
  back.gray.forEach((v, i) => assert.ok(Math.abs(v - gray[i]) < 1e-4));
  const flat = averageDown(new Float32Array(10 * 10).fill(90), 10, 10, 1.5);
  assert.deepEqual([flat.width, flat.height], [6, 6]);
  flat.gray.forEach((v) => assert.ok(Math.abs(v - 90) < 1e-4));
  assert.equal(averageDown(gray, 4, 3, 1).gray, gray);
});
