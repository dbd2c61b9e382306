// Scrub previews: the sprite sheet's tile for the time under the slider, from the WebVTT
// index (one cue per tile, "sprite.jpg#xywh=x,y,w,h"). The slider also seeks the video.
// Every word on the page comes from the server; this script only moves pixels.
(function () {
  "use strict";
  var video = document.getElementById("player");
  var scrub = document.getElementById("scrub");
  var preview = document.getElementById("preview");
  var track = document.getElementById("thumbs");
  if (!video) { return; }
  video.addEventListener("playing", function () { video.dataset.played = "1"; });
  if (!scrub || !preview || !track) { return; }
  track.track.mode = "hidden";  // cues load, nothing is drawn over the video
  function cueAt(t) {
    var cues = track.track.cues || [];
    for (var i = 0; i < cues.length; i++) {
      if (cues[i].startTime <= t && t < cues[i].endTime) { return cues[i]; }
    }
    return null;
  }
  function timeOf(value) { return (video.duration || 0) * value / 1000; }
  function show(value) {
    var cue = cueAt(timeOf(value));
    var m = cue && /#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(cue.text);
    if (!m) { preview.hidden = true; return; }
    preview.style.width = m[3] + "px";
    preview.style.height = m[4] + "px";
    preview.style.backgroundImage = "url(" + preview.dataset.sprite + ")";
    preview.style.backgroundPosition = "-" + m[1] + "px -" + m[2] + "px";
    preview.style.left = (scrub.offsetWidth * value / 1000 - m[3] / 2) + "px";
    preview.hidden = false;
  }
  scrub.addEventListener("input", function () {
    show(scrub.value);
    if (video.duration) { video.currentTime = timeOf(scrub.value); }
  });
  scrub.addEventListener("mousemove", function (e) {
    var r = scrub.getBoundingClientRect();
    show(Math.max(0, Math.min(1000, 1000 * (e.clientX - r.left) / r.width)));
  });
  scrub.addEventListener("mouseleave", function () { preview.hidden = true; });
  video.addEventListener("timeupdate", function () {
    if (video.duration && document.activeElement !== scrub) {
      scrub.value = Math.round(1000 * video.currentTime / video.duration);
    }
  });
})();
