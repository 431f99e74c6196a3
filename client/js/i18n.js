// Localization for every page: message catalogs in client/i18n/<lang>.json (flat keys,
// "{name}" placeholders), dates and times through Intl.DateTimeFormat, language names
// through Intl.DisplayNames in their own form (中文, 日本語, Español, English).
//
// The language: the visitor's explicit choice on the page (remembered in localStorage),
// else the registration's language (followRegistration), else the browser's, else English.
// Missing keys fall back to English, then to the key itself (visible, so tests catch it).

/** Languages with a catalog. Participant pages are complete in en, zh, ja, es; the
 *  organizers' pages and mails also in pl and cs. */
export const UI_LANGUAGES = ["en", "zh", "ja", "es", "pl", "cs"];
export const PAGE_LANGUAGES = ["en", "zh", "ja", "es"];
const STORE_KEY = "simultan-lang";

/** @type {Record<string, string>} */
let catalog = {};
/** @type {Record<string, string>} */
let fallback = {};
let current = "en";
/** @type {Set<(lang: string) => void>} */
const listeners = new Set();

/** The text for `key` in the page's language, with `{name}` replaced from `vars`. */
export function t(key, vars = {}) {
  const text = catalog[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function currentLanguage() {
  return current;
}

/** The first of `candidates` (BCP 47 tags such as "ja-JP") that `offered` has, by base tag. */
export function pickLanguage(candidates, offered = UI_LANGUAGES) {
  for (const tag of candidates) {
    if (!tag) continue;
    const base = String(tag).toLowerCase().split(/[-_]/)[0];
    if (offered.includes(base)) return base;
  }
  return null;
}

function stored() {
  try {
    return globalThis.localStorage?.getItem(STORE_KEY) || null;
  } catch {
    return null;
  }
}

/** The language before we know the registration: a remembered choice, else the browser's. */
export function initialLanguage(offered = UI_LANGUAGES) {
  return pickLanguage([stored(), ...(globalThis.navigator?.languages || [])], offered) || "en";
}

async function load(lang) {
  const response = await fetch(`/static/i18n/${lang}.json`);
  if (!response.ok) throw new Error(`catalog ${lang}: HTTP ${response.status}`);
  return /** @type {Record<string, string>} */ (await response.json());
}

/**
 * Switch the page to `lang`: load its catalog, set <html lang>, translate the static
 * markup and tell every listener. `remember` keeps the choice for the next visit.
 * @param {string} lang
 * @param {{remember?: boolean}} [opts]
 */
export async function setLanguage(lang, opts = {}) {
  const code = pickLanguage([lang]) || "en";
  if (!Object.keys(fallback).length) fallback = await load("en");
  catalog = code === "en" ? fallback : await load(code).catch(() => fallback);
  current = code;
  if (opts.remember) {
    try {
      globalThis.localStorage?.setItem(STORE_KEY, code);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  }
  if (globalThis.document) {
    document.documentElement.lang = code;
    applyStatic(document);
  }
  for (const fn of listeners) fn(code);
}

/** Follow the registration's language unless the visitor chose one on the page. */
export async function followRegistration(lang, offered = PAGE_LANGUAGES) {
  if (stored()) return;
  const code = pickLanguage([lang], offered);
  if (code && code !== current) await setLanguage(code);
}

/** @param {(lang: string) => void} fn  called after every language switch */
export function onLanguageChange(fn) {
  listeners.add(fn);
}

/**
 * Translate the markup: `data-i18n="key"` sets the text, `data-i18n-attr="attr:key;..."`
 * sets attributes (aria-label, placeholder, title).
 * @param {ParentNode} root
 */
export function applyStatic(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(/** @type {HTMLElement} */ (node).dataset.i18n || "");
  }
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of (/** @type {HTMLElement} */ (node).dataset.i18nAttr || "").split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** A language's name in its own language: "ja" → "日本語". */
export function nativeName(code) {
  try {
    const name = new Intl.DisplayNames([code], { type: "language" }).of(code) || code;
    return name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
  } catch {
    return code;
  }
}

/** A language's name in the page's language: "ja" → "Japanese" on an English page. */
export function languageName(code) {
  try {
    return new Intl.DisplayNames([current], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

/** Names joined as the page's language joins a list: "A, B and C", "A、B、C". */
export function listOf(names) {
  try {
    return new Intl.ListFormat(current, { style: "long", type: "conjunction" }).format(names);
  } catch {
    return names.join(", ");
  }
}

/** An ISO instant as a wall-clock time (24 h) in `timeZone`, in the page's language. */
export function formatTime(iso, timeZone) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(current, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone,
  }).format(new Date(iso));
}

/** An ISO instant as a date (weekday, day, month, year) in `timeZone`. */
export function formatDate(iso, timeZone, style = /** @type {const} */ ("full")) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(current, { dateStyle: style, timeZone }).format(new Date(iso));
}

/** A time zone's readable name in the page's language ("Japan Standard Time"), or its id. */
export function zoneName(timeZone, iso = new Date().toISOString()) {
  try {
    const parts = new Intl.DateTimeFormat(current, { timeZone, timeZoneName: "long" })
      .formatToParts(new Date(iso));
    return parts.find((p) => p.type === "timeZoneName")?.value || timeZone;
  } catch {
    return timeZone;
  }
}

/**
 * Fill a <select> with `offered` languages in their native names and switch on change
 * (the choice is remembered).
 * @param {HTMLSelectElement} select
 * @param {string[]} offered
 */
export function mountLanguagePicker(select, offered = PAGE_LANGUAGES) {
  select.replaceChildren();
  for (const code of offered) {
    const option = document.createElement("option");
    option.value = code;
    option.lang = code;
    option.textContent = nativeName(code);
    select.append(option);
  }
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value, { remember: true }));
  onLanguageChange((lang) => { select.value = lang; });
}

/** Start the page in its initial language (call once, awaited, before the first render). */
export async function startI18n(offered = PAGE_LANGUAGES) {
  await setLanguage(initialLanguage(offered));
}
