// The driver table of docs/lab.md, made from the registry (`hil drivers --markdown`): each
// driver's role, kind, summary and notes, and the settings its schema declares. A unit test
// (test/unit/drivers-readme.test.ts) keeps the copy in docs/lab.md equal to it.
import type { z } from 'zod';
import { allDrivers, type DriverKind } from './registry.js';
import './index.js';

/** The markers the table sits between in docs/lab.md. */
export const TABLE_BEGIN =
  '<!-- drivers table: made by `hil drivers --markdown`; test/unit/drivers-readme.test.ts checks it -->';
export const TABLE_END = '<!-- end of the drivers table -->';

/** The keys a driver's settings schema declares (its table in the board file). */
export function settingKeys(d: DriverKind): string[] {
  let s = d.settings as z.ZodTypeAny & { shape?: Record<string, unknown>; _def?: { schema?: z.ZodTypeAny } };
  // A refined object (z.object().refine()) keeps its shape one level down.
  while (!s.shape && s._def?.schema) s = s._def.schema as typeof s;
  return s.shape ? Object.keys(s.shape) : [];
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table, in Markdown, one row per driver in the registry's order. */
export function driversMarkdown(): string {
  const rows = allDrivers().map((d) => {
    const what = d.notes ? `${d.summary}; ${d.notes}` : d.summary;
    const keys = settingKeys(d)
      .map((k) => `\`${k}\``)
      .join(', ');
    return `| ${d.role} | \`${d.kind}\` | ${cell(what)} | ${keys || '-'} |`;
  });
  return ['| role | kind | what it is | settings |', '|---|---|---|---|', ...rows].join('\n');
}

/** `text` (docs/lab.md) with its table replaced by `table`; undefined when it has no markers. */
export function withTable(text: string, table: string): string | undefined {
  const a = text.indexOf(TABLE_BEGIN);
  const b = text.indexOf(TABLE_END);
  if (a < 0 || b < a) return undefined;
  return `${text.slice(0, a + TABLE_BEGIN.length)}\n${table}\n${text.slice(b)}`;
}

/** The table the file holds now, between the markers. */
export function tableIn(text: string): string | undefined {
  const a = text.indexOf(TABLE_BEGIN);
  const b = text.indexOf(TABLE_END);
  if (a < 0 || b < a) return undefined;
  return text.slice(a + TABLE_BEGIN.length, b).trim();
}
