// Cutline editor: keeps the picked files in the form (pick, drop, remove) and shows the upload's progress.
// The form works without this file too: htmx (or a plain POST) sends it, the server checks everything.
(function () {
  "use strict";

  const form = document.getElementById("editor-form");
  if (!form || typeof DataTransfer === "undefined") return;

  // Every rule comes from the server through the form's data- attributes (limits.py, accept.py, settings).
  const maxVisuals = Number(form.dataset.maxVisuals);
  const maxMb = Number(form.dataset.maxMb);
  const musicSuffixes = (form.dataset.musicSuffixes || "").split(" ").filter(Boolean);
  const isSongName = (name) => musicSuffixes.some((suffix) => name.toLowerCase().endsWith(suffix));
  const photoSuffixes = (form.dataset.photoSuffixes || "").split(" ").filter(Boolean);
  const isPhotoName = (name) => photoSuffixes.some((suffix) => name.toLowerCase().endsWith(suffix));

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    const units = ["KB", "MB", "GB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (value < 10 ? value.toFixed(1) : Math.round(value)) + " " + units[unit];
  }

  function kindOf(file) {
    if (file.type.startsWith("audio/") || isSongName(file.name)) return "song";
    if (file.type.startsWith("image/") || isPhotoName(file.name)) return "photo";
    return "video";
  }

  function setMessages(slotId, messages) {
    // Looked up each time: the server's answer replaces these slots.
    const slot = document.getElementById(slotId);
    if (!slot) return;
    slot.replaceChildren(...messages.map(function (text) {
      const p = document.createElement("p");
      p.textContent = text;
      return p;
    }));
  }

  function Picker(field, max) {
    this.field = field;
    this.max = max;
    this.files = [];
    this.urls = new Map();
    this.input = form.querySelector('input[name="' + field + '"]');
    this.list = document.getElementById(field + "-list");
    this.input.addEventListener("change", () => this.add(Array.from(this.input.files)));
  }

  Picker.prototype.add = function (files) {
    const problems = [];
    // A song is one file: a new pick replaces it. Clips and photos add up.
    const kept = this.max === 1 && files.length ? [] : this.files.slice();
    for (const file of files) {
      if (file.size > maxMb * 1024 * 1024) {
        problems.push(file.name + " is " + humanSize(file.size) + ": each file can be at most " + maxMb + " MB.");
        continue;
      }
      if (kept.some((f) => f.name === file.name && f.size === file.size && f.lastModified === file.lastModified)) continue;
      if (kept.length >= this.max) {
        problems.push(this.max === 1 ? "Add only one song." : "At most " + this.max + " videos or photos per job: " + file.name + " was left out.");
        continue;
      }
      kept.push(file);
    }
    this.files = kept;
    this.sync();
    setMessages("error-" + this.field, problems);
  };

  Picker.prototype.remove = function (file) {
    this.files = this.files.filter((f) => f !== file);
    this.sync();
    setMessages("error-" + this.field, []);
  };

  Picker.prototype.sync = function () {
    const transfer = new DataTransfer();
    this.files.forEach((file) => transfer.items.add(file));
    this.input.files = transfer.files;
    for (const [file, url] of this.urls) {
      if (!this.files.includes(file)) {
        URL.revokeObjectURL(url);
        this.urls.delete(file);
      }
    }
    this.list.replaceChildren(...this.files.map((file) => this.item(file)));
    form.querySelector('[data-drop="' + this.field + '"]').classList.toggle("has-files", this.files.length > 0);
  };

  Picker.prototype.thumbnail = function (file, kind) {
    const box = document.createElement("span");
    box.className = "thumb thumb-" + kind;
    if (kind === "song") return box;
    if (!this.urls.has(file)) this.urls.set(file, URL.createObjectURL(file));
    const url = this.urls.get(file);
    const media = document.createElement(kind === "photo" ? "img" : "video");
    if (kind === "photo") {
      media.alt = "";
      media.src = url;
    } else {
      media.muted = true;
      media.preload = "metadata";
      media.src = url + "#t=0.1";
    }
    media.addEventListener("error", () => media.remove());
    box.append(media);
    return box;
  };

  Picker.prototype.item = function (file) {
    const kind = kindOf(file);
    const li = document.createElement("li");
    li.className = "file-item";
    const name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;
    const size = document.createElement("span");
    size.className = "file-size";
    size.textContent = (kind === "song" ? "Song" : kind === "photo" ? "Photo" : "Video") + " · " + humanSize(file.size);
    const text = document.createElement("span");
    text.className = "file-text";
    text.append(name, size);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "file-remove";
    remove.setAttribute("aria-label", "Remove " + file.name);
    remove.title = "Remove";
    remove.textContent = "×";
    remove.addEventListener("click", () => this.remove(file));
    li.append(this.thumbnail(file, kind), text, remove);
    return li;
  };

  const visuals = new Picker("videos", maxVisuals);
  const music = new Picker("music", 1);

  // Drop anywhere on the form: songs go to the song, everything else to clips and photos.
  let dragDepth = 0;
  form.addEventListener("dragenter", (event) => {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
    dragDepth += 1;
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) form.classList.remove("dragging");
  });
  form.addEventListener("dragover", (event) => event.preventDefault());
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    form.classList.remove("dragging");
    const files = Array.from(event.dataTransfer.files || []);
    const songs = files.filter((file) => kindOf(file) === "song");
    const pictures = files.filter((file) => kindOf(file) !== "song");
    if (pictures.length) visuals.add(pictures);
    if (songs.length) music.add(songs.slice(-1));
  });
  // A file dropped next to the form must not replace the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  const duration = document.getElementById("id_duration");
  const durationOutput = document.getElementById("duration-output");
  duration.addEventListener("input", () => {
    durationOutput.textContent = duration.value + " s";
  });

  // Sending: the bar follows the bytes going up; the server then checks each file.
  const button = document.getElementById("submit-button");
  const progress = document.getElementById("upload-progress");
  const bar = progress.querySelector(".bar");
  const fill = bar.querySelector("span");
  const progressText = document.getElementById("upload-text");
  let shown = 0;

  function status(text, isError) {
    const line = document.getElementById("form-status");
    line.textContent = text || "";
    line.classList.toggle("is-error", Boolean(isError));
  }

  function showProgress(fraction, text) {
    shown = Math.max(shown, fraction);
    const percent = Math.round(shown * 100);
    fill.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    progressText.textContent = text;
  }

  function finishSending() {
    button.disabled = false;
    button.textContent = "Make my video";
    progress.hidden = true;
    form.classList.remove("sending");
  }

  form.addEventListener("htmx:beforeRequest", (event) => {
    const missing = [];
    if (!visuals.files.length) {
      setMessages("error-videos", ["Add at least one video or photo."]);
      missing.push("clips");
    }
    if (!music.files.length) {
      setMessages("error-music", ["Add a song."]);
      missing.push("song");
    }
    if (missing.length) {
      event.preventDefault();
      status("Add your " + missing.join(" and a ") + " first.", true);
      return;
    }
    ["all", "videos", "music", "style", "duration", "aspect_ratio"].forEach((name) => setMessages("error-" + name, []));
    status("");
    shown = 0;
    progress.hidden = false;
    form.classList.add("sending");
    button.disabled = true;
    button.textContent = "Uploading…";
    showProgress(0, "Starting the upload…");
  });

  form.addEventListener("htmx:xhr:progress", (event) => {
    const detail = event.detail;
    if (progress.hidden || !detail.lengthComputable || !detail.total) return;
    if (detail.loaded >= detail.total && shown > 0.5) {
      showProgress(1, "Uploaded. Checking your files…");
      button.textContent = "Checking…";
      return;
    }
    showProgress(detail.loaded / detail.total,
      "Uploading… " + Math.round((detail.loaded / detail.total) * 100) + "% (" +
      humanSize(detail.loaded) + " of " + humanSize(detail.total) + ")");
  });

  form.addEventListener("htmx:afterRequest", (event) => {
    const xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Redirect")) {
      showProgress(1, "Done. Opening your video’s page…");
      return;
    }
    finishSending();
    if (xhr && xhr.status === 422) {
      // Show the first problem, clear of the button bar at the bottom of phone screens.
      const first = Array.from(form.querySelectorAll(".field-error")).find((slot) => slot.textContent.trim());
      if (first) first.scrollIntoView({block: "center", behavior: "smooth"});
    }
  });

  form.addEventListener("htmx:responseError", (event) => {
    const code = event.detail.xhr ? event.detail.xhr.status : 0;
    status(code === 413
      ? "The server refused the upload because it is too large. Try smaller files."
      : "Something went wrong on our side (error " + code + "). Your files are still here: try again in a moment.", true);
  });

  form.addEventListener("htmx:sendError", () => {
    status("The upload did not get through. Check your connection; your files are still here, so you can try again.", true);
  });
})();
