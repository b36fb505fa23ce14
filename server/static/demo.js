// Demo page: send one image to /v1/sharpen on this same server and compare before and after.
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

async function sharpen() {
  if (!currentFile) return;
  const form = new FormData();
  form.append("image", currentFile, currentFile.name || "pasted.png");
  const sigma = sigmaValue();
  if (sigma !== null) form.append("sigma", String(sigma));
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;

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

init();
