// The job page: poll the status while waiting, then draw the waveform and offer an A/B toggle
// between the result and the original. Without this script the page refreshes itself instead.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job) return;
  var state = job.dataset.state;

  if (state === "waiting" || state === "running") {
    var bar = document.getElementById("job-progress");
    var percent = document.getElementById("job-percent");
    var message = document.getElementById("job-message");
    var delay = 1000;
    var live = document.getElementById("live-audio");
    var timer = null;
    var listening = function () { return live && !live.paused && !live.ended; };
    var finish = function (data) {
      // Someone listening live keeps listening: the page shows the downloads once they stop.
      if (data.state === "done" && listening()) {
        message.textContent = "Done! The downloads appear when you pause or the song ends.";
        bar.value = 100;
        percent.textContent = "100%";
        live.addEventListener("pause", function () { window.location.reload(); });
        live.addEventListener("ended", function () { window.location.reload(); });
        return;
      }
      window.location.reload();
    };
    var poll = function () {
      timer = null;
      fetch(job.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (data) {
          delay = 1000;
          if (data.finished) { finish(data); return; }
          if (data.state === "waiting") {
            message.textContent = "Waiting in line: position " + data.queue_position + " in the queue.";
            bar.removeAttribute("value");
            percent.textContent = "";
          } else {
            var value = Math.round((data.progress || 0) * 100);
            if (data.state !== state) message.textContent = "Separating the song…";
            bar.value = value;
            bar.textContent = value + "%";
            percent.textContent = value + "%";
          }
          state = data.state;
          if (rearm) {
            rearm = false;
            reconnects += 1;
            live.load();
            live.play().catch(function () {});
          }
          timer = window.setTimeout(poll, delay);
        })
        .catch(function () {
          // A network hiccup: keep trying, more slowly.
          delay = Math.min(delay * 2, 15000);
          timer = window.setTimeout(poll, delay);
        });
    };
    var pollNow = function () {
      if (timer === null) return; // a poll is under way
      window.clearTimeout(timer);
      poll();
    };
    var wanted = false, rearm = false, reconnects = 0;
    if (live) {
      live.addEventListener("play", function () { wanted = true; });
      // The live stream stopped: the song ended, the separation failed, or the server stopped
      // waiting for a job still in the queue. Ask at once, so the page says why without waiting
      // for the next poll; a listener who has heard nothing yet is reconnected if it goes on.
      var stopped = function () {
        rearm = wanted && live.currentTime === 0 && reconnects < 30;
        pollNow();
      };
      live.addEventListener("ended", stopped);
      live.addEventListener("error", stopped);
    }
    timer = window.setTimeout(poll, delay);
    return;
  }

  if (state !== "done") return;

  // --- tempo and key: a light worker adds them a few seconds after the stems ----------------
  var analysis = document.getElementById("song-analysis");
  if (analysis && analysis.hidden) {
    var asks = 0;
    var ask = function () {
      asks += 1;
      fetch(job.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : {}; })
        .then(function (data) {
          if (data.tempo_and_key) {
            analysis.textContent = data.tempo_and_key;
            analysis.hidden = false;
          } else if (asks < 20) {
            window.setTimeout(ask, 2000);
          }
        })
        .catch(function () { if (asks < 20) window.setTimeout(ask, 4000); });
    };
    window.setTimeout(ask, 1000);
  }

  var result = document.getElementById("result-audio");
  var original = document.getElementById("original-audio");
  var toggle = document.getElementById("ab-toggle");
  var canvas = document.getElementById("waveform");
  var player = document.getElementById("player");

  // --- waveform -------------------------------------------------------------------------------
  var peaks = null;
  var styles = window.getComputedStyle(document.documentElement);
  var played = styles.getPropertyValue("--primary").trim() || "#333";
  var unplayed = styles.getPropertyValue("--accent").trim() || "#999";
  function draw() {
    if (!peaks) return;
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    var bars = Math.max(1, Math.floor(width / 3));
    var step = peaks.length / bars;
    var position = result.duration ? result.currentTime / result.duration : 0;
    for (var i = 0; i < bars; i++) {
      var from = Math.floor(i * step), to = Math.max(from + 1, Math.floor((i + 1) * step));
      var level = 0;
      for (var j = from; j < to && j < peaks.length; j++) level = Math.max(level, peaks[j]);
      var h = Math.max(2, level * (height - 8));
      ctx.fillStyle = i / bars < position ? played : unplayed;
      ctx.fillRect(i * 3, (height - h) / 2, 2, h);
    }
  }
  fetch(canvas.dataset.peaksUrl)
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) { if (data) { peaks = data.peaks; draw(); } })
    .catch(function () { canvas.hidden = true; });
  window.addEventListener("resize", draw);
  result.addEventListener("timeupdate", draw);
  result.addEventListener("seeked", draw);
  canvas.addEventListener("click", function (event) {
    if (!result.duration) return;
    var rect = canvas.getBoundingClientRect();
    result.currentTime = ((event.clientX - rect.left) / rect.width) * result.duration;
  });

  // --- A/B toggle: both play in step; a gain node makes one of them audible -------------------
  var AudioCtx = window.AudioContext || window.webkitAudioContext;
  if (!AudioCtx) return; // without Web Audio both players stay visible, as without JavaScript
  player.classList.add("js-ab");
  toggle.hidden = false;
  var audio = null, resultGain = null, originalGain = null, hearOriginal = false;
  function route() {
    audio = new AudioCtx();
    resultGain = audio.createGain();
    originalGain = audio.createGain();
    audio.createMediaElementSource(result).connect(resultGain).connect(audio.destination);
    audio.createMediaElementSource(original).connect(originalGain).connect(audio.destination);
    original.preload = "auto";
    // The original follows the visible player.
    result.addEventListener("play", function () { sync(); original.play(); });
    result.addEventListener("pause", function () { original.pause(); });
    result.addEventListener("seeked", sync);
    result.addEventListener("timeupdate", function () {
      if (Math.abs(original.currentTime - result.currentTime) > 0.15) sync();
    });
  }
  function sync() { original.currentTime = result.currentTime; }
  toggle.addEventListener("click", function () {
    if (!audio) {
      route();
      if (!result.paused) { sync(); original.play(); }
    }
    audio.resume();
    hearOriginal = !hearOriginal;
    resultGain.gain.value = hearOriginal ? 0 : 1;
    originalGain.gain.value = hearOriginal ? 1 : 0;
    // The label stays put and aria-pressed says the state, as a toggle button should.
    toggle.setAttribute("aria-pressed", String(hearOriginal));
  });
})();
