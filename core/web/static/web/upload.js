// Drag and drop onto the drop zone, and an upload with a progress bar. Without this script the
// form still works: the file input and the submit button post it the ordinary way.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var input = document.getElementById("id_file");
  var zone = document.getElementById("dropzone");
  var errorBox = document.getElementById("file-error");
  var status = document.getElementById("upload-status");
  var bar = document.getElementById("upload-progress");
  var percent = document.getElementById("upload-percent");
  var label = document.getElementById("upload-label");
  var button = document.getElementById("upload-button");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var busy = false;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function setProgress(value) {
    bar.value = value;
    bar.textContent = value + "%";
    percent.textContent = value + "%";
  }

  function upload() {
    var file = input.files && input.files[0];
    if (busy) return;
    if (!file) { showError("Choose an audio or video file to upload."); input.focus(); return; }
    if (file.size === 0) { showError("The file is empty. Choose another file."); return; }
    if (maxBytes && file.size > maxBytes) {
      showError("The file is over the limit of " + form.dataset.maxSize + ". Upload a smaller file.");
      return;
    }
    showError("");
    busy = true;
    button.disabled = true;
    status.hidden = false;
    label.textContent = "Uploading " + file.name + "…";
    setProgress(0);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) setProgress(Math.round((event.loaded / event.total) * 100));
    });
    xhr.upload.addEventListener("load", function () {
      label.textContent = "Checking the file…";
    });
    xhr.addEventListener("load", function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
      if (xhr.status >= 200 && xhr.status < 300 && data.redirect) {
        label.textContent = "Uploaded. Opening your song…";
        window.location.assign(data.redirect);
        return;
      }
      fail(data.error || "The upload failed (error " + xhr.status + "). Please try again.");
    });
    xhr.addEventListener("error", function () {
      fail("The connection was lost during the upload. Check your connection and try again.");
    });
    xhr.send(new FormData(form));
  }

  function fail(message) {
    busy = false;
    button.disabled = false;
    status.hidden = true;
    showError(message);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    upload();
  });
  input.addEventListener("change", upload);

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("is-dragover");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("is-dragover"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) return;
    input.files = files;
    upload();
  });
  // A file dropped beside the zone must not make the browser navigate away to play it.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });
})();
