// Registration form: an enhancement only (the form works without JavaScript).
// On a fresh form, preselect the browser's own time zone when the list offers it; under
// "When", add the event's days in the visitor's own time zone when it differs.
import { formatDate, formatTime, setLanguage, t } from "../i18n.js";

const form = /** @type {HTMLFormElement|null} */ (document.querySelector("form.register-form"));
const select = /** @type {HTMLSelectElement|null} */ (document.getElementById("timezone"));

let zone = "";
try {
  zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
} catch {
  zone = "";
}

if (form && select && form.dataset.fresh === "true") {
  const option = Array.from(select.options).find((o) => o.value === zone);
  if (option) select.value = zone;
}

/** Add the visitor's own time under each event day (when their zone is not the event's). */
export async function showOwnTime(ownZone = zone) {
  await setLanguage(document.documentElement.lang || "en");
  for (const li of document.querySelectorAll("#when li[data-start]")) {
    const node = /** @type {HTMLElement} */ (li);
    node.querySelector(".own-time")?.remove();
    const { start, end } = node.dataset;
    if (!ownZone || !start || !end) continue;
    const same = formatTime(start, ownZone) === formatTime(start, node.dataset.zone)
      && formatDate(start, ownZone) === formatDate(start, node.dataset.zone);
    if (same) continue;
    const own = document.createElement("div");
    own.className = "own-time";
    own.textContent = t("register.your_time", {
      date: formatDate(start, ownZone), start: formatTime(start, ownZone),
      end: formatTime(end, ownZone), zone: ownZone,
    });
    node.append(own);
  }
}

showOwnTime();
