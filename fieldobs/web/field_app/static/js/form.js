// The checklist as a form, rendered from the published checklist JSON: every item type, N/A,
// comments, photos, guidance, per-section progress and the error summary at "Finish".

import { prepare } from "./photos.js";
import { del, get, put } from "./store.js";
import { clock, el, parseNumber, parseSeconds, uuid4 } from "./util.js";

const TYPE_HINTS = {
  duration: "Time it, or type seconds or minutes:seconds (95 or 1:35).",
  number: "A number; a comma or a point for decimals.",
};

/** Tell whether an item has an answer that counts (N/A counts). */
export function answered(item, a) {
  if (!a) return false;
  if (a.na) return true;
  if (item.type === "photo") return (a.photos || []).length > 0;
  return a.value !== null && a.value !== undefined && a.value !== "" && !Number.isNaN(a.value);
}

/** Return what is wrong with an item's answer at Finish, or null: the same words everywhere. */
export function problem(item, a) {
  if (a && !a.na && Number.isNaN(a.value)) {
    return item.type === "duration"
      ? `Enter the time as seconds or minutes:seconds: ${item.prompt}`
      : `Enter a number: ${item.prompt}`;
  }
  if (item.required && !answered(item, a)) {
    return item.type === "photo" ? `Add a photo: ${item.prompt}` : `Answer: ${item.prompt}`;
  }
  if (answered(item, a) && !a.na && item.photo === "required" && !(a.photos || []).length) {
    return `Add a photo: ${item.prompt}`;
  }
  return null;
}

function sizeText(bytes) {
  return bytes > 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}

/**
 * Render a draft's form into `root`. `save(draft)` persists every change;
 * `finish()` is called once the answers are complete; `review` carries a returned visit's
 * note and item comments.
 */
export function renderForm(root, { draft, checklist, save, finish, review }) {
  const urls = [];
  const timers = [];
  const sectionsProgress = new Map();
  const itemErrors = new Map();
  const answerOf = (id) => (draft.answers[id] ||= { value: null, photos: [] });

  const changed = () => {
    draft.updated_at = Date.now();
    updateProgress();
    return save(draft);
  };

  const summary = el("div", {
    class: "error-summary", role: "alert", tabindex: "-1", hidden: true,
    "aria-labelledby": "error-summary-title",
  });

  function updateProgress() {
    let all = 0;
    let done = 0;
    for (const section of checklist.sections) {
      const n = section.items.filter((i) => answered(i, draft.answers[i.id])).length;
      all += section.items.length;
      done += n;
      const meter = sectionsProgress.get(section.id);
      meter.text.textContent = `${n} of ${section.items.length} answered`;
      meter.bar.value = n;
    }
    overall.textContent = `${done} of ${all} answered`;
  }

  function itemControl(item) {
    const a = answerOf(item.id);
    const name = `q-${item.id}`;
    const controls = [];
    const radio = (value, label, checked) => {
      const input = el("input", {
        type: "radio", name, value: String(value), checked,
        onchange: () => { a.value = value; changed(); },
      });
      controls.push(input);
      return el("label", { class: "choice" }, input, el("span", {}, label));
    };
    let body;
    if (item.type === "yes_no") {
      body = el("div", { class: "choices two" },
        radio(true, "Yes", a.value === true), radio(false, "No", a.value === false));
    } else if (item.type === "scale") {
      const options = [];
      for (let v = item.min; v <= item.max; v += 1) {
        const label = item.labels?.[String(v)];
        options.push(radio(v, label ? `${v} – ${label}` : String(v), a.value === v));
      }
      body = el("div", { class: "choices scale" }, options);
    } else if (item.type === "choice") {
      body = el("div", { class: "choices" },
        item.options.map((o) => radio(o.id, o.label, a.value === o.id)));
    } else if (item.type === "duration" || item.type === "number") {
      const parse = item.type === "duration" ? parseSeconds : parseNumber;
      const hint = el("p", { class: "hint", id: `hint-${item.id}` },
        TYPE_HINTS[item.type], item.unit ? ` Unit: ${item.unit}.` : "");
      const input = el("input", {
        type: "text", id: `in-${item.id}`, inputmode: item.type === "number" ? "decimal" : "text",
        autocomplete: "off", value: a.text ?? (a.value ?? ""), "aria-describedby": hint.id,
        oninput: () => { a.text = input.value; a.value = parse(input.value); changed(); },
      });
      controls.push(input);
      const parts = [el("label", { for: input.id, class: "small-label" },
        item.type === "duration" ? "Seconds" : "Figure"), input, hint];
      if (item.type === "duration") {
        const shown = el("output", { class: "timer", "aria-live": "off" }, "");
        const button = el("button", { type: "button", class: "secondary" });
        const tick = () => {
          if (a.timer_started) {
            shown.textContent = clock((Date.now() - a.timer_started) / 1000);
            button.textContent = "Stop timer";
          } else {
            shown.textContent = "";
            button.textContent = "Start timer";
          }
        };
        // The start time lives in the draft: the timer keeps running across a reload.
        button.addEventListener("click", () => {
          if (a.timer_started) {
            a.value = Math.round((Date.now() - a.timer_started) / 1000);
            a.text = String(a.value);
            input.value = a.text;
            a.timer_started = null;
          } else {
            a.timer_started = Date.now();
          }
          tick();
          changed();
        });
        controls.push(button);
        timers.push(setInterval(tick, 1000));
        tick();
        parts.push(el("div", { class: "timer-row" }, button, shown));
      }
      body = el("div", { class: "typed" }, parts);
    } else if (item.type === "text") {
      const input = el("textarea", {
        id: `in-${item.id}`, rows: 4, maxlength: item.max_length || 10000,
        "aria-label": item.prompt,
        oninput: () => { a.value = input.value.trim() ? input.value : null; changed(); },
      });
      input.value = a.value || "";
      controls.push(input);
      body = input;
    } else {
      body = el("p", { class: "hint" }, item.required
        ? "Take or choose at least one photo." : "Take or choose photos if they help.");
    }
    return { body, controls };
  }

  function photoBlock(item) {
    const a = answerOf(item.id);
    const list = el("ul", { class: "photos", "aria-label": `Photos for: ${item.prompt}` });
    const show = async () => {
      list.replaceChildren();
      for (const [index, id] of (a.photos || []).entries()) {
        const photo = await get("photos", id);
        const picture = photo?.blob
          ? el("img", { src: track(URL.createObjectURL(photo.blob)), alt: `Photo ${index + 1}` })
          : el("div", { class: "photo-sent" }, "Sent earlier");
        const when = photo?.taken_at ? `Taken ${photo.taken_at.slice(11, 16)}` : "";
        list.append(el("li", {},
          el("figure", {}, picture,
            el("figcaption", {}, [when, photo?.size ? sizeText(photo.size) : ""]
              .filter(Boolean).join(" · "))),
          el("button", {
            type: "button", class: "danger", "aria-label": `Delete photo ${index + 1}`,
            onclick: async () => {
              a.photos = a.photos.filter((p) => p !== id);
              if (photo && !photo.remote) await del("photos", id);
              await changed();
              show();
            },
          }, "Delete")));
      }
    };
    const status = el("p", { class: "hint", "aria-live": "polite" });
    const picker = (label, capture) => {
      const input = el("input", {
        type: "file", accept: "image/*", class: "visually-hidden", multiple: !capture,
        capture: capture ? "environment" : false,
        onchange: async () => {
          const files = [...input.files];
          input.value = "";
          for (const file of files) {
            status.textContent = "Preparing photo…";
            try {
              const prepared = await prepare(file);
              const id = uuid4();
              // The photo is on the device before the answer names it.
              await put("photos", {
                id, owner: draft.owner, visit_id: draft.id, item: item.id, state: "local",
                upload_url: null, ...prepared,
              });
              a.photos = [...(a.photos || []), id];
              a.na = false;
              await changed();
              status.textContent = "";
            } catch (error) {
              status.textContent = error.message;
            }
          }
          show();
        },
      });
      return el("label", { class: "button secondary file" }, input, label);
    };
    show();
    return el("div", { class: "photo-block" },
      el("div", { class: "row" }, picker("Take photo", true), picker("Choose photo", false)),
      status, list);
  }

  function track(url) {
    urls.push(url);
    return url;
  }

  function itemBlock(item) {
    const a = answerOf(item.id);
    const { body, controls } = itemControl(item);
    const error = el("p", { class: "field-error", id: `err-${item.id}`, hidden: true });
    itemErrors.set(item.id, error);
    const badges = [];
    if (item.critical) badges.push(el("strong", { class: "badge critical" }, "Critical"));
    if (!item.required) badges.push(el("span", { class: "badge" }, "Optional"));
    const parts = [
      el("legend", {}, el("span", { class: "prompt" }, item.prompt), " ", badges),
      error,
    ];
    const comment = review?.item_comments?.[item.id];
    if (comment) {
      parts.push(el("p", { class: "reviewer-comment" }, el("strong", {}, "Reviewer: "), comment));
    }
    if (item.guidance) {
      parts.push(el("details", { class: "guidance" },
        el("summary", {}, "How to judge"), el("p", {}, item.guidance)));
    }
    parts.push(body);
    if (item.allow_na) {
      const na = el("input", {
        type: "checkbox", checked: !!a.na,
        onchange: () => {
          a.na = na.checked;
          for (const c of controls) c.disabled = na.checked;
          changed();
        },
      });
      for (const c of controls) c.disabled = !!a.na;
      parts.push(el("label", { class: "check" }, na, el("span", {}, "Not applicable")));
    }
    if (item.photo !== "none" || item.type === "photo") parts.push(photoBlock(item));
    const note = el("textarea", {
      rows: 2, id: `comment-${item.id}`,
      oninput: () => { a.comment = note.value; changed(); },
    });
    note.value = a.comment || "";
    parts.push(el("details", { class: "comment", open: !!a.comment },
      el("summary", {}, "Comment"),
      el("label", { for: note.id, class: "small-label" }, "Comment on this item"), note));
    return el("fieldset", {
      class: item.critical ? "item critical" : "item", id: `item-${item.id}`,
      "aria-describedby": error.id,
    }, parts);
  }

  const overall = el("span", {});
  const sections = checklist.sections.map((section) => {
    const text = el("span", { class: "progress-text" });
    const bar = el("progress", { max: section.items.length, value: 0, "aria-hidden": "true" });
    sectionsProgress.set(section.id, { text, bar });
    return el("section", { class: "form-section", id: `section-${section.id}` },
      el("h2", {}, section.title),
      el("div", { class: "section-progress" }, text, bar),
      section.description ? el("p", { class: "hint" }, section.description) : null,
      section.items.map(itemBlock));
  });

  const notes = el("textarea", {
    id: "visit-notes", rows: 3,
    oninput: () => { draft.notes = notes.value; changed(); },
  });
  notes.value = draft.notes || "";

  const finishButton = el("button", { type: "submit", class: "primary big" }, "Finish visit");
  const form = el("form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      performance.mark("finish-start");
      const problems = [];
      for (const section of checklist.sections) {
        for (const item of section.items) {
          const message = problem(item, draft.answers[item.id]);
          const slot = itemErrors.get(item.id);
          slot.hidden = !message;
          slot.textContent = message || "";
          if (message) problems.push([item, message]);
        }
      }
      if (problems.length) {
        summary.replaceChildren(
          el("h2", { id: "error-summary-title" }, "There is a problem"),
          el("ul", {}, problems.map(([item, message]) => el("li", {}, el("a", {
            href: `#item-${item.id}`,
            onclick: (e) => { e.preventDefault(); jump(item); },
          }, message)))));
        summary.hidden = false;
        summary.focus();
        return;
      }
      summary.hidden = true;
      finishButton.disabled = true;
      try {
        await finish();
      } finally {
        finishButton.disabled = false;
      }
    },
  },
  summary,
  review ? el("div", { class: "notice returned" },
    el("h2", {}, "Returned for correction"), el("p", {}, review.note || "")) : null,
  el("p", { class: "overall" }, overall),
  sections,
  el("section", { class: "form-section" },
    el("h2", {}, "Notes"),
    el("label", { for: notes.id }, "Notes for the reviewer (optional)"), notes),
  el("div", { class: "finish-bar" }, finishButton));

  function jump(item) {
    const block = document.getElementById(`item-${item.id}`);
    block.scrollIntoView({ block: "start" });
    const target = block.querySelector("input:not([type=file]):not(:disabled), textarea, button");
    (target || block).focus({ preventScroll: true });
  }

  root.replaceChildren(form);
  updateProgress();
  return {
    /** Stop timers and free photo previews when leaving the form. */
    close() {
      timers.forEach(clearInterval);
      urls.forEach((u) => URL.revokeObjectURL(u));
    },
  };
}
