// Auto-escaping HTML templates: `html\`<td>${name}</td>\`` escapes every interpolated value
// unless it is itself an `html` fragment (or a list of them). A case, board or reason
// printed by a guest can never become markup, whatever it contains; nothing has to
// remember to escape. (lit-html's rule, without a DOM.)
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]);

export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Markup the runner itself wrote (a style sheet): never a value from a run. */
export const trusted = (text: string) => new SafeHtml(text);
