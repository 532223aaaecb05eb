// The key and tempo page: name the new key and tempo as the choices change, before the form is
// sent, and play the new preview once it is. Without this script the form works as it is.
(function () {
  "use strict";
  var form = document.getElementById("transpose-form");
  var result = document.getElementById("transpose-result");
  if (!form || !result) return;
  var pitch = document.getElementById("transpose-pitch");
  var tempo = document.getElementById("transpose-tempo");
  var bpm = parseFloat(form.dataset.bpm);
  var min = parseInt(tempo.min, 10);
  var max = parseInt(tempo.max, 10);

  var describe = function () {
    var option = pitch.options[pitch.selectedIndex];
    var key = option ? option.dataset.key : "";
    var percent = parseInt(tempo.value, 10);
    if (isNaN(percent) || percent < min || percent > max) {
      result.textContent = "Choose a tempo from " + min + " % to " + max + " %.";
      return;
    }
    var text = key ? "Now in " + key : (option ? option.textContent : "");
    if (!isNaN(bpm)) text += " at " + Math.round(bpm * percent / 100) + " BPM";
    result.textContent = text + ".";
  };
  pitch.addEventListener("change", describe);
  tempo.addEventListener("input", describe);

  // The button says "Hear the first 30 seconds": once the form is sent, start the preview.
  var PLAY = "stemsplit-transpose-play";
  form.addEventListener("submit", function () {
    try { window.sessionStorage.setItem(PLAY, "1"); } catch (e) { /* storage off: no autoplay */ }
  });
  var audio = document.getElementById("transpose-audio");
  var asked = false;
  try {
    asked = window.sessionStorage.getItem(PLAY) === "1";
    window.sessionStorage.removeItem(PLAY);
  } catch (e) { /* storage off */ }
  if (audio && asked) {
    var playing = audio.play();
    if (playing && playing.catch) playing.catch(function () { /* autoplay refused: the controls remain */ });
  }
})();
