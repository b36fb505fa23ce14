// Demo page: send one image to /v1/sharpen on this same server and compare before and after,
// or to /v1/read and show the text read from it beside the image.
// Blind by default: whoever drops a screenshot rarely knows its blur σ, and a wrong σ leaves ghosts.
"use strict";

const $ = (id) => document.getElementById(id);
const TYPES = ["image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif"];

let currentFile = null;
let beforeUrl = null;
let resultUrl = null;
let resultBlob = null;
let latestRequest = 0; // only the newest request may show its result or its error

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function replaceUrl(oldUrl, blob) {
  if (oldUrl) URL.revokeObjectURL(oldUrl);
  return URL.createObjectURL(blob);
}

// The "after" image and Download always belong to the image shown as "before": cleared as soon
// as another image or setting is sent, so a failed request never leaves an older result on show.
function clearResult() {
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = null;
  resultBlob = null;
  $("result").removeAttribute("src");
  $("result-caption").textContent = "after";
  $("compare-after").removeAttribute("src");
  $("download").removeAttribute("href");
  $("download").hidden = true;
  $("copy").hidden = true;
}

/** What the result was sharpened with, in words. */
function describeSigma(sigma) {
  return sigma === null ? "blind (the model estimated the blur)" : `with blur \u03c3 ${sigma.toFixed(1)} px`;
}

function chooseFile(file) {
  if (!file) return;
  if (!TYPES.includes(file.type)) {
    setStatus(`Unsupported file type ${file.type || "(unknown)"}: use PNG, JPEG, WebP, BMP or GIF.`, true);
    return;
  }
  currentFile = file;
  beforeUrl = replaceUrl(beforeUrl, file);
  $("before").src = beforeUrl;
  $("compare-before").src = beforeUrl;
  $("sharpen").disabled = false;
  imageChosenForReading();
  sharpen();
}

function sigmaValue() {
  return $("blind").checked ? null : Number($("sigma").value);
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error.message;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

/** The current image, the chosen σ and the token as a multipart body and headers (for /v1/sharpen and /v1/read). */
function imageRequest() {
  const form = new FormData();
  form.append("image", currentFile, currentFile.name || "pasted.png");
  const sigma = sigmaValue();
  if (sigma !== null) form.append("sigma", String(sigma));
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  return { form, headers, sigma };
}

async function sharpen() {
  if (!currentFile) return;
  const { form, headers, sigma } = imageRequest();

  const request = ++latestRequest;
  $("sharpen").disabled = true;
  clearResult();
  setStatus(`Sharpening ${describeSigma(sigma)}...`);
  const started = performance.now();
  try {
    const response = await fetch("/v1/sharpen", { method: "POST", body: form, headers });
    if (!response.ok) throw new Error(await errorMessage(response));
    const blob = await response.blob();
    if (request !== latestRequest) return;
    resultBlob = blob;
    resultUrl = URL.createObjectURL(blob);
    $("result").src = resultUrl;
    $("compare-after").src = resultUrl;
    $("download").href = resultUrl;
    $("download").hidden = false;
    $("copy").hidden = false;
    $("result-caption").textContent = sigma === null ? "after (blind)" : `after (\u03c3 ${sigma.toFixed(1)} px)`;
    const base = (currentFile.name || "image").replace(/\.[^.]*$/, "");
    $("download").download = `${base}-sharpened.png`;
    $("output-panel").hidden = false;
    setStatus(`Done in ${Math.round(performance.now() - started)} ms, sharpened ${describeSigma(sigma)}.`);
  } catch (error) {
    if (request === latestRequest) setStatus(`Failed: ${error.message}`, true);
  } finally {
    $("sharpen").disabled = false;
  }
}

async function copyResult() {
  if (!resultBlob) return;
  if (!navigator.clipboard?.write || typeof ClipboardItem === "undefined") {
    setStatus("This browser cannot copy images from a page (no Clipboard API with ClipboardItem here): use \u201cDownload result\u201d.", true);
    return;
  }
  try {
    await navigator.clipboard.write([new ClipboardItem({ "image/png": resultBlob })]);
    setStatus("Copied the sharpened image: paste it where you need it.");
  } catch (error) {
    setStatus(`Could not copy the image (${error.message}): use \u201cDownload result\u201d.`, true);
  }
}

function showView(view) {
  $("side-view").hidden = view !== "side";
  $("slider-view").hidden = view !== "slider";
}

function init() {
  const zone = $("drop-zone");
  $("file-input").addEventListener("change", (event) => chooseFile(event.target.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    chooseFile(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (item) chooseFile(item.getAsFile());
  });

  $("sigma").addEventListener("input", () => {
    $("sigma-value").textContent = Number($("sigma").value).toFixed(1);
  });
  $("sigma").addEventListener("change", sharpen);
  $("blind").addEventListener("change", () => {
    $("sigma").disabled = $("blind").checked;
    sharpen();
  });
  $("sharpen").addEventListener("click", sharpen);
  $("copy").addEventListener("click", copyResult);
  $("compare").addEventListener("input", () => {
    document.documentElement.style.setProperty("--split", `${$("compare").value}%`);
  });
  document.querySelectorAll('input[name="view"]').forEach((radio) => {
    radio.addEventListener("change", () => showView(radio.value));
  });
}

// --- Read text: /v1/read, the text beside the image, uncertain characters marked ---

const CONFIDENT = 0.9; // the reader's own threshold: a character below it may be wrong
let latestReading = 0; // only the newest reading of the image on show may appear
let readingText = "";

function clearReading() {
  latestReading += 1; // a reading still in flight belongs to another image or request: dropped
  readingText = "";
  $("reading-panel").hidden = true;
  $("reading-verdict").textContent = "";
  $("reading-text").replaceChildren();
  $("reading-legend").hidden = true;
  $("copy-text").hidden = true;
}

function imageChosenForReading() {
  clearReading();
  $("reading-image").src = beforeUrl;
  $("read").disabled = false;
}

/** The verdict in plain words, and how the image was read. */
function verdictInWords(reading) {
  const how = reading.sigma === null ? "read blind" : `read with blur \u03c3 ${reading.sigma.toFixed(1)} px`;
  const share = Math.round(reading.confident_share * 100);
  if (reading.verdict === "unreadable") {
    return `This cannot be read: no text in this image could be recovered with confidence (${how}).`;
  }
  if (reading.verdict === "partly") {
    return `Partly readable: ${share}% of the characters were read with confidence; the others are marked (${how}).`;
  }
  return `Readable: ${share}% of the characters were read with confidence (${how}).`;
}

/** One line of text, each character read with less than CONFIDENT confidence in a marked span. */
function renderLine(line) {
  const row = document.createElement("div");
  row.className = "line";
  [...line.text].forEach((character, index) => {
    const confidence = line.confidence[index] ?? 0;
    if (confidence >= CONFIDENT) {
      row.append(character);
      return;
    }
    const mark = document.createElement("span");
    mark.className = "uncertain";
    mark.textContent = character;
    mark.title = `uncertain: read with ${Math.round(confidence * 100)}% confidence`;
    row.append(mark);
  });
  row.normalize();
  return row;
}

function showReading(reading) {
  // An unreadable image gets its verdict only: its "letters" would be invented.
  const shown = reading.verdict === "unreadable" ? [] : reading.lines;
  $("reading-verdict").textContent = verdictInWords(reading);
  $("reading-verdict").classList.toggle("unreadable", reading.verdict === "unreadable");
  $("reading-text").replaceChildren(...shown.map(renderLine));
  readingText = shown.map((line) => line.text).join("\n");
  $("reading-legend").hidden = !shown.some((line) => line.confidence.some((c) => c < CONFIDENT));
  $("copy-text").hidden = !readingText;
  $("reading-panel").hidden = false;
}

async function readText() {
  if (!currentFile) return;
  const { form, headers, sigma } = imageRequest();
  clearReading();
  const request = latestReading;
  $("read").disabled = true;
  setStatus(`Reading the text ${describeSigma(sigma)}...`);
  const started = performance.now();
  try {
    const response = await fetch("/v1/read", { method: "POST", body: form, headers });
    if (!response.ok) throw new Error(await errorMessage(response));
    const reading = await response.json();
    if (request !== latestReading) return;
    showReading(reading);
    setStatus(`Read in ${Math.round(performance.now() - started)} ms.`);
  } catch (error) {
    if (request === latestReading) setStatus(`Could not read the text: ${error.message}`, true);
  } finally {
    $("read").disabled = false;
  }
}

async function copyText() {
  if (!readingText) return;
  if (!navigator.clipboard?.writeText) {
    setStatus("This browser does not let the page copy text: select the text and copy it yourself.", true);
    return;
  }
  try {
    await navigator.clipboard.writeText(readingText);
    setStatus("Copied the text.");
  } catch (error) {
    setStatus(`Could not copy the text (${error.message}): select it and copy it yourself.`, true);
  }
}

function initReading() {
  $("read").addEventListener("click", readText);
  $("copy-text").addEventListener("click", copyText);
}

init();
initReading();
