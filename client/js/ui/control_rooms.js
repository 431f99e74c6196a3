// Group discussions on the control page: plan (method, number of groups or group size), the
// preview with a room picker per city (move by hand before and after opening), each group's
// facilitator, rapporteur and booth, open, a notice into one room or every room, call
// everyone back, the countdown, and visiting a room (listen, or speak) with this page's own
// media session: opened when the visit starts, closed when the moderator leaves.
import { $, banner, el } from "./dom.js";
import { languageName, listOf, onLanguageChange, t } from "../i18n.js";
import { clock } from "./countdown.js";
import { memberMedia, roomOf } from "./stage_rooms.js";

export const MIN_SIZE = 2;
export const MAX_SIZE = 12;

/** The plan message the form asks for: a number of groups, or a group size (2 to 12). */
export function planMessage(method, by, value) {
  const n = Math.round(Number(value)) || null;
  if (by === "size") {
    return { type: "rooms", action: "plan", method, size: n === null ? null : Math.min(MAX_SIZE, Math.max(MIN_SIZE, n)) };
  }
  return { type: "rooms", action: "plan", method, count: n };
}

/** My visit: {room, speak} while I visit a group, else null. */
export function visitOf(rooms, me) {
  if (!rooms || !me) return null;
  for (const r of rooms.rooms || []) {
    if (r.id !== "plenary" && (r.visitors || []).includes(me)) {
      return { room: r.id, speak: (r.speakers || []).includes(me) };
    }
  }
  return null;
}

/** Resolve once `pc` is connected (or after `ms`): the member slots are added after that. */
function connected(pc, ms = 5000) {
  if (pc.connectionState === "connected") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("connectionstatechange", check); clearTimeout(timer); resolve(); };
    const check = () => { if (pc.connectionState === "connected") done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener("connectionstatechange", check);
  });
}

/** @param {{live: any}} ui */
export function mountRoomsControl(ui) {
  const { live } = ui;
  /** @type {any} */
  let rooms = null;
  /** @type {any} */
  let you = null;
  /** @type {{id: string, language: string}[]} */
  let booths = [];
  /** @type {any} */
  let session = null; // this page's media session, while visiting
  let skew = 0; // the server's clock minus ours: the countdown follows the server
  const announce = (text) => { $("rooms-announce").textContent = text; };

  const send = (msg) => live.request(msg).then((reply) => { banner(""); return reply; },
    (err) => { banner(err.message); announce(err.message); throw err; });
  const nameOf = (id) => rooms?.names?.[id] || id.slice(0, 8);
  /** A room's title; the plenary's in the page's language. @param {any} r */
  const roomTitle = (r) => (r.id === "plenary" ? t("control.rooms_plenary") : r.title);
  const titleOf = (id) => {
    const r = rooms?.rooms.find((/** @type {any} */ r) => r.id === id);
    return r ? roomTitle(r) : id;
  };

  const members = memberMedia({
    rooms: () => rooms, me: () => you?.id, session: () => session,
    container: $("visit-members"), nameOf,
  });

  function sizeMode() {
    const by = /** @type {HTMLInputElement|null} */ (document.querySelector("input[name=rooms-by]:checked"))?.value || "count";
    const input = $("rooms-count");
    $("rooms-count-label").textContent = t(by === "size" ? "control.rooms_size" : "control.rooms_count");
    input.min = by === "size" ? String(MIN_SIZE) : "1";
    input.max = by === "size" ? String(MAX_SIZE) : "80";
    return by;
  }

  /** A select of the room's members for one role; changing it sets both roles. */
  function rolePicker(r, role) {
    const id = `room-${r.id}-${role}`;
    const pool = r.members;
    const select = el("select", { id, "data-testid": `rooms-${role}` },
      el("option", { value: "" }, t("control.rooms_nobody")),
      ...pool.map((/** @type {string} */ p) => el("option", { value: p }, nameOf(p))));
    select.value = r[role] && pool.includes(r[role]) ? r[role] : "";
    select.addEventListener("change", () => {
      const other = role === "facilitator" ? "rapporteur" : "facilitator";
      const roles = { [role]: select.value || null, [other]: r[other] || null };
      send({ type: "rooms", action: "roles", room: r.id, ...roles }).then(() => {
        announce(t(`control.rooms_${role}_set`, { room: r.title, name: select.value ? nameOf(select.value) : t("control.rooms_nobody") }));
      }, () => { select.value = r[role] || ""; });
    });
    return el("label", { class: "inline", htmlFor: id }, t(`control.rooms_${role}`), " ", select);
  }

  function boothPicker(r) {
    const id = `room-${r.id}-booth`;
    const select = el("select", { id, "data-testid": "rooms-booth" },
      el("option", { value: "" }, t("control.rooms_no_booth")),
      ...booths.map((b) => el("option", { value: b.id }, t("control.rooms_booth", { language: languageName(b.language) }))));
    select.value = r.booth || "";
    select.addEventListener("change", () => {
      const booth = select.value || null;
      send({ type: "rooms", action: "booth", room: r.id, booth }).then(() => {
        announce(booth ? t("control.rooms_booth_set", { room: r.title, booth: languageName(booth) })
          : t("control.rooms_booth_none", { room: r.title }));
      }, () => { select.value = r.booth || ""; });
    });
    return el("label", { class: "inline", htmlFor: id }, t("control.rooms_interpretation"), " ", select);
  }

  function visitButtons(r, mine) {
    const live = rooms.phase === "open" || rooms.phase === "closing";
    const listen = el("button", { type: "button", "data-testid": "rooms-listen", "aria-pressed": String(!!mine && !mine.speak) },
      t("control.rooms_listen"));
    const speak = el("button", { type: "button", "data-testid": "rooms-speak", "aria-pressed": String(!!mine?.speak) },
      t("control.rooms_speak"));
    for (const b of [listen, speak]) {
      b.disabled = !live;
      b.setAttribute("aria-describedby", `room-${r.id}-title`);
    }
    listen.addEventListener("click", () => visit(r.id, false));
    speak.addEventListener("click", () => visit(r.id, true));
    return el("span", { class: "button-row" }, listen, speak);
  }

  function visit(room, speak) {
    return send({ type: "rooms", action: "visit", room, speak }).then(() => {
      announce(t(speak ? "control.rooms_speaking_in" : "control.rooms_listening_in", { room: titleOf(room) }));
    }, () => {});
  }

  function renderVisit() {
    const mine = visitOf(rooms, you?.id);
    const panel = $("visit-panel");
    panel.hidden = !mine;
    if (!mine) return;
    const info = rooms.rooms.find((/** @type {any} */ r) => r.id === mine.room);
    $("visit-title").textContent = t(mine.speak ? "control.rooms_speaking_in" : "control.rooms_listening_in", { room: info?.title || mine.room });
    const heard = [...(info?.members || []), ...(info?.speakers || [])].filter((p) => p !== you?.id);
    $("visit-who").textContent = heard.length ? t("control.rooms_in_room", { names: listOf(heard.map(nameOf)) })
      : t("control.rooms_empty");
    const toggle = $("visit-toggle");
    toggle.textContent = t(mine.speak ? "control.rooms_listen_only" : "control.rooms_speak_too");
    toggle.dataset.speak = mine.speak ? "false" : "true";
  }

  function render() {
    if (!rooms) return;
    $("rooms-phase").textContent = t(`control.rooms_phase_${rooms.phase}`);
    tick();
    $("rooms-open").disabled = rooms.phase !== "preview";
    $("rooms-cancel").disabled = rooms.phase !== "preview";
    $("rooms-call-back").disabled = rooms.phase !== "open";
    const ids = rooms.rooms.map((/** @type {any} */ r) => r.id);
    const target = $("room-notice-room");
    const chosen = target.value;
    target.replaceChildren(el("option", { value: "" }, t("control.rooms_every")),
      ...rooms.rooms.filter((/** @type {any} */ r) => r.id !== "plenary").map((/** @type {any} */ r) => el("option", { value: r.id }, r.title)));
    target.value = ids.includes(chosen) ? chosen : "";
    const mine = visitOf(rooms, you?.id);
    // Keep the focus on the control it was on across the re-render (keyboard users).
    const focused = /** @type {HTMLElement|null} */ (document.activeElement);
    const focusKey = focused?.closest("#rooms-list") ? focused.id || focused.dataset.person || null : null;
    const focusRoom = focused?.closest("[data-room]")?.getAttribute("data-room");
    const focusTest = focused?.dataset.testid;
    $("rooms-list").replaceChildren(...rooms.rooms.map((/** @type {any} */ r) => {
      const list = r.members.map((/** @type {string} */ p) => {
        const picker = el("select", { "aria-label": t("control.rooms_room_for", { name: nameOf(p) }) },
          ...rooms.rooms.map((/** @type {any} */ o) => el("option", { value: o.id }, roomTitle(o))));
        picker.value = r.id;
        picker.dataset.person = p;
        picker.addEventListener("change", () => {
          const to = picker.value;
          send({ type: "rooms", action: "move", person_id: p, room: to })
            .then(() => announce(t("control.rooms_moved", { name: nameOf(p), room: titleOf(to) })),
              () => { picker.value = r.id; });
        });
        const badges = [];
        if (r.facilitator === p) badges.push(t("control.rooms_facilitator"));
        if (r.rapporteur === p) badges.push(t("control.rooms_rapporteur"));
        const label = badges.length
          ? t("control.rooms_member_roles", { name: nameOf(p), roles: listOf(badges) }) : nameOf(p);
        return el("li", {}, label + " ", picker);
      });
      const booth = r.booth ? ` · ${t("control.rooms_booth", { language: languageName(r.booth) })}` : "";
      const visiting = (r.visitors || []).length ? ` · ${t("control.rooms_visited")}` : "";
      const title = el("strong", { id: `room-${r.id}-title` }, `${roomTitle(r)} (${r.members.length})${booth}${visiting}`);
      const parts = [title];
      if (r.id !== "plenary") {
        parts.push(el("div", { class: "room-settings" }, rolePicker(r, "facilitator"), rolePicker(r, "rapporteur"),
          boothPicker(r), visitButtons(r, mine?.room === r.id ? mine : null)));
      }
      parts.push(el("ul", {}, ...list));
      return el("li", { class: "room", "data-room": r.id }, ...parts);
    }));
    if (focusRoom || focusKey) {
      const box = focusRoom ? $("rooms-list").querySelector(`[data-room="${focusRoom}"]`) : $("rooms-list");
      const again = (focusKey && (box?.querySelector(`[id="${focusKey}"]`) || box?.querySelector(`[data-person="${focusKey}"]`)))
        || (focusTest && box?.querySelector(`[data-testid="${focusTest}"]`));
      /** @type {HTMLElement|null} */ (again || null)?.focus();
    }
    renderVisit();
  }

  // The countdown ticks without rebuilding the list (a rebuild would close an open picker).
  function tick() {
    if (!rooms) return;
    const end = rooms.closes_at || rooms.ends_at;
    const left = end ? Math.max(0, Math.round((Date.parse(end) - Date.now() - skew) / 1000)) : null;
    $("rooms-countdown").textContent = left === null ? ""
      : t(rooms.closes_at ? "control.rooms_closing" : "control.rooms_left", { time: clock(left * 1000) });
  }

  // Visiting: this page's media session while I visit a group, closed when I leave.
  let media = Promise.resolve();
  function followMedia() {
    media = media.then(async () => {
      const visiting = roomOf(rooms, you?.id) !== "plenary";
      if (visiting && !session) {
        const { connectMedia } = await import("../media.js");
        session = await connectMedia({
          live, publish: null, listenToFloorVideo: false, // the room only: no floor video
          onRenewed: () => { members.reset(); members.follow(); },
        });
        await connected(session.pc);
      } else if (!visiting && session) {
        members.release();
        session.close();
        session = null;
        live.mediaSession = null;
        return;
      }
      await members.follow();
    }).catch((err) => { banner(t("control.rooms_media_error", { message: err.message })); });
    return media;
  }

  $("rooms-plan").addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    send(planMessage($("rooms-method").value, sizeMode(), $("rooms-count").value))
      .then((reply) => {
        rooms = reply.data?.rooms || rooms;
        render();
        const groups = rooms.rooms.filter((/** @type {any} */ r) => r.id !== "plenary").length;
        announce(t("control.rooms_previewed", { count: groups }));
      }, () => {});
  });
  for (const radio of document.querySelectorAll("input[name=rooms-by]")) radio.addEventListener("change", sizeMode);
  $("rooms-open").addEventListener("click", () => send({ type: "rooms", action: "open" })
    .then(() => announce(t("control.rooms_opened")), () => {}));
  $("rooms-cancel").addEventListener("click", () => send({ type: "rooms", action: "cancel" }).catch(() => {}));
  $("rooms-call-back").addEventListener("click", () => send({ type: "rooms", action: "call_back" })
    .then(() => announce(t("control.rooms_called_back")), () => {}));
  $("visit-toggle").addEventListener("click", () => {
    const mine = visitOf(rooms, you?.id);
    if (mine) visit(mine.room, $("visit-toggle").dataset.speak === "true");
  });
  $("visit-leave").addEventListener("click", () => {
    const mine = visitOf(rooms, you?.id);
    send({ type: "rooms", action: "visit", room: null }).then(() => {
      announce(t("control.rooms_left_room", { room: titleOf(mine?.room || "") }));
    }, () => {});
  });
  $("room-notice-form").addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const text = $("room-notice-text").value.trim();
    if (!text) return;
    const room = $("room-notice-room").value || null;
    send({ type: "room_notice", room, text }).then(() => { $("room-notice-text").value = ""; }, () => {});
  });

  document.addEventListener("simultan:welcome", (/** @type {any} */ ev) => {
    rooms = ev.detail.snapshot.rooms;
    you = ev.detail.you;
    booths = ev.detail.snapshot.event?.booths || [];
    const at = Date.parse(ev.detail.snapshot.server_time || "");
    if (!Number.isNaN(at)) skew = at - Date.now();
    render();
    followMedia();
  });
  document.addEventListener("simultan:event", (/** @type {any} */ ev) => {
    if (ev.detail.name === "rooms") { rooms = ev.detail.data.rooms; render(); followMedia(); }
  });
  onLanguageChange(() => { sizeMode(); render(); });
  setInterval(tick, 1000);
  sizeMode();
  const api = { members, frequency: members.frequency, session: () => session };
  return api;
}
