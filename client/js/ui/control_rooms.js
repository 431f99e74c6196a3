// Group discussions on the control page: plan (method, number or size of groups), the
// preview with a room picker per city (move by hand before and after opening), open, a
// notice into one room or every room, call everyone back, and the countdown.
import { $, banner, el } from "./dom.js";
import { languageName, onLanguageChange, t } from "../i18n.js";
import { clock } from "./countdown.js";

/** @param {{live: any}} ui */
export function mountRoomsControl(ui) {
  const { live } = ui;
  /** @type {any} */
  let rooms = null;

  const send = (msg) => live.request(msg).then((reply) => { banner(""); return reply; },
    (err) => { banner(err.message); throw err; });

  function render() {
    if (!rooms) return;
    $("rooms-phase").textContent = t(`control.rooms_phase_${rooms.phase}`);
    const end = rooms.closes_at || rooms.ends_at;
    const left = end ? Math.max(0, Math.round((Date.parse(end) - Date.now()) / 1000)) : null;
    $("rooms-countdown").textContent = left === null ? ""
      : t(rooms.closes_at ? "control.rooms_closing" : "control.rooms_left", { time: clock(left * 1000) });
    $("rooms-open").disabled = rooms.phase !== "preview";
    $("rooms-cancel").disabled = rooms.phase !== "preview";
    $("rooms-call-back").disabled = rooms.phase !== "open";
    const ids = rooms.rooms.map((/** @type {any} */ r) => r.id);
    const target = $("room-notice-room");
    const chosen = target.value;
    target.replaceChildren(el("option", { value: "" }, t("control.rooms_every")),
      ...ids.filter((id) => id !== "plenary").map((id) => el("option", { value: id }, id)));
    target.value = ids.includes(chosen) ? chosen : "";
    const names = rooms.names || {};
    $("rooms-list").replaceChildren(...rooms.rooms.map((/** @type {any} */ r) => {
      const members = r.members.map((/** @type {string} */ p) => {
        const picker = el("select", { "aria-label": t("control.rooms_room_for", { name: names[p] || p }) },
          ...ids.map((id) => el("option", { value: id }, id)));
        picker.value = r.id;
        picker.dataset.person = p;
        picker.addEventListener("change", () => {
          send({ type: "rooms", action: "move", person_id: p, room: picker.value })
            .catch(() => { picker.value = r.id; });
        });
        return el("li", {}, `${names[p] || p} `, picker);
      });
      const title = `${r.title} (${r.members.length})${r.booth ? ` · ${t("control.rooms_booth", { language: languageName(r.booth) })}` : ""}`;
      return el("li", { class: "room", "data-room": r.id }, el("strong", {}, title),
        el("ul", {}, ...members));
    }));
  }

  $("rooms-plan").addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const count = Number($("rooms-count").value) || null;
    send({ type: "rooms", action: "plan", method: $("rooms-method").value, count })
      .then((reply) => { rooms = reply.data?.rooms || rooms; render(); }, () => {});
  });
  $("rooms-open").addEventListener("click", () => send({ type: "rooms", action: "open" }).catch(() => {}));
  $("rooms-cancel").addEventListener("click", () => send({ type: "rooms", action: "cancel" }).catch(() => {}));
  $("rooms-call-back").addEventListener("click", () => send({ type: "rooms", action: "call_back" }).catch(() => {}));
  $("room-notice-form").addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const text = $("room-notice-text").value.trim();
    if (!text) return;
    const room = $("room-notice-room").value || null;
    send({ type: "room_notice", room, text }).then(() => { $("room-notice-text").value = ""; }, () => {});
  });

  document.addEventListener("simultan:welcome", (/** @type {any} */ ev) => {
    rooms = ev.detail.snapshot.rooms;
    render();
  });
  document.addEventListener("simultan:event", (/** @type {any} */ ev) => {
    if (ev.detail.name === "rooms") { rooms = ev.detail.data.rooms; render(); }
  });
  onLanguageChange(() => render());
  setInterval(render, 1000);
}
