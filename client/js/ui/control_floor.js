// The moderator's floor: the raise-hand queue (name, city, language, waiting time; give the
// floor, lower one, lower all), the invited panelists, and the live panel (mute, unmute,
// pin, take back, end the panel). Every command carries the floor version this page shows,
// so a stale click is refused by the server. Buttons are enabled only where the move is
// possible (the floor full, someone already muted...).
import { $, banner, el } from "./dom.js";
import { languageName, listOf, onLanguageChange, t } from "../i18n.js";

/** @param {{live: any, state: any}} page */
export function mountControlFloor(page) {
  const { live, state } = page;
  let announced = new Set();

  const floor = () => state.snapshot?.floor;
  const name = (/** @type {string} */ id) => {
    const p = floor()?.people?.[id];
    return p ? t("control.person", { name: p.name, city: p.city || "" }) : id;
  };

  function send(action, extra = {}) {
    const f = floor();
    return live.request({ type: "floor", action, base_version: f.version, ...extra }).then(
      () => banner(""),
      (err) => banner(err.code === "conflict"
        ? t("control.floor_conflict", { message: err.message })
        : err.message),
    );
  }

  function button(text, onClick, { disabled = false, testid = "" } = {}) {
    const b = /** @type {HTMLButtonElement} */ (el("button", testid ? { "data-testid": testid } : {}, text));
    b.disabled = disabled;
    b.addEventListener("click", onClick);
    return b;
  }

  let skew = 0; // server clock minus ours, from the welcome
  function waited(iso) {
    const minutes = Math.max(0, Math.floor((Date.now() + skew - Date.parse(iso)) / 60000));
    return minutes < 1 ? t("control.just_now") : t("control.minutes", { minutes });
  }

  function render() {
    const f = floor();
    if (!f) return;
    const full = f.live.length >= f.limit;
    $("hand-list").replaceChildren(...f.hands.map((/** @type {any} */ h, /** @type {number} */ i) => {
      const li = el("li", { "data-person": h.person_id },
        t("control.hand", { n: i + 1, name: name(h.person_id), language: languageName(h.language), waited: waited(h.raised_at) }), " ");
      li.append(
        button(t("control.give_floor"), () => send("give", { person_id: h.person_id, language: h.language }),
          { disabled: full, testid: "give-floor" }),
        " ",
        button(t("control.lower"), () => send("lower", { person_id: h.person_id })),
      );
      return li;
    }));
    /** @type {HTMLButtonElement} */ ($("lower-all")).disabled = !f.hands.length;
    $("hand-count").textContent = f.hands.length ? `(${f.hands.length})` : "";
    const badge = $("tab-hands");
    if (badge) badge.textContent = f.hands.length ? t("control.hands_badge", { n: f.hands.length }) : "";
    $("invited-list").replaceChildren(...f.invited.map((/** @type {string} */ id) => el("li", {},
      `${name(id)} `, button(t("control.take_live"), () => send("give", { person_id: id }), { disabled: full }))));
    // the whole invited panel live at once (the server grants all or none)
    const all = /** @type {HTMLButtonElement} */ ($("take-all-live"));
    all.hidden = f.invited.length < 2;
    all.disabled = f.live.length + f.invited.length > f.limit;
    $("panel-list").replaceChildren(...f.live.map((/** @type {any} */ s) => {
      const parts = [name(s.person_id), languageName(s.language)];
      if (s.muted) parts.push(t("control.muted"));
      if (s.person_id === f.shown) parts.push(t("control.on_screen"));
      const li = el("li", { "data-person": s.person_id }, `${parts.join(" · ")} `);
      // the moderator corrects what a live speaker speaks (the floor language follows)
      const speaks = /** @type {HTMLSelectElement} */ (el("select", {
        "data-testid": "speaker-language",
        "aria-label": t("control.speaker_language", { name: name(s.person_id) }),
      }, ...(state.snapshot?.event?.languages || []).map((/** @type {string} */ lang) =>
        el("option", { value: lang, lang }, languageName(lang)))));
      speaks.value = s.language;
      speaks.addEventListener("change", () =>
        send("language", { person_id: s.person_id, language: speaks.value }));
      li.append(
        speaks,
        " ",
        button(t(s.muted ? "control.unmute" : "control.mute"), () => send(s.muted ? "unmute" : "mute", { person_id: s.person_id }),
          { testid: "mute" }),
        " ",
        button(t(f.pinned === s.person_id ? "control.unpin" : "control.pin"),
          () => (f.pinned === s.person_id ? send("unpin") : send("pin", { person_id: s.person_id }))),
        " ",
        button(t("control.take_back"), () => send("take", { person_id: s.person_id }), { testid: "take-back" }),
      );
      return li;
    }));
    /** @type {HTMLButtonElement} */ ($("end-panel")).disabled = !f.live.length && !f.invited.length;
    $("panel-count").textContent = t("control.panel_count", { n: f.live.length, limit: f.limit });
    // Announce new hands to the moderator (a live region), once each.
    const now = new Set(f.hands.map((/** @type {any} */ h) => h.person_id));
    const fresh = [...now].filter((id) => !announced.has(id));
    if (fresh.length) $("hand-announce").textContent = t("control.hand_raised", { names: listOf(fresh.map(name)) });
    announced = now;
  }

  $("lower-all").addEventListener("click", () => send("lower_all"));
  $("take-all-live").addEventListener("click", () => send("give", { person_ids: floor()?.invited || [] }));
  $("end-panel").addEventListener("click", () => send("end"));
  document.addEventListener("simultan:welcome", (ev) => {
    const at = /** @type {CustomEvent} */ (ev).detail.snapshot?.server_time;
    if (at) skew = Date.parse(at) - Date.now();
    render();
  });
  document.addEventListener("simultan:event", (ev) => {
    if (/** @type {CustomEvent} */ (ev).detail.name === "floor") render();
  });
  onLanguageChange(() => render());
  setInterval(render, 30000); // waiting times move on
  return { render };
}
