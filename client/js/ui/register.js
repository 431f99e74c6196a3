// Registration form: an enhancement only (the form works without JavaScript).
// On a fresh form, preselect the browser's own time zone when the list offers it.

const form = document.querySelector("form.register-form");
const select = document.getElementById("timezone");

if (form && select && form.dataset.fresh === "true") {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    zone = "";
  }
  const option = Array.from(select.options).find((o) => o.value === zone);
  if (option) select.value = zone;
}
