// Small DOM helpers shared by the pages. User text is only ever set with textContent.

/**
 * The page's element with this id. Typed `any`: which element it is (input, select, button)
 * is the markup's business, and the pages use each as what their HTML says it is.
 * @param {string} id
 * @returns {any}
 */
export const $ = (id) => document.getElementById(id);

/**
 * The elements matching `selector`, as HTML elements (dataset, hidden, disabled).
 * @param {string} selector
 * @param {ParentNode} [root]
 * @returns {any[]}
 */
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Build an element; children are nodes or text (never parsed as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

/** Show (or with no text, hide) the page's #banner. */
export function banner(text, kind = "error") {
  const b = $("banner");
  b.hidden = !text;
  b.className = `banner ${kind}`;
  b.textContent = text || "";
}
