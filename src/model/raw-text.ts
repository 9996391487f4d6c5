/**
 * What an input's raw text may not hold, whatever the input: a control character (a line break, where the input is
 * one line: the WHATWG URL parser drops CR, LF and tab silently, so `http://h/x\r\nY: z` would pass as a URL), or a
 * character that shows as nothing (zero-width spaces and joiners, bidi controls, word joiners, BOM, soft hyphen).
 */

const INVISIBLE = new Map<number, string>([
  [0x00ad, 'soft hyphen'],
  [0x061c, 'Arabic letter mark'],
  [0x180e, 'Mongolian vowel separator'],
  [0x200b, 'zero-width space'],
  [0x200c, 'zero-width non-joiner'],
  [0x200d, 'zero-width joiner'],
  [0x200e, 'left-to-right mark'],
  [0x200f, 'right-to-left mark'],
  [0x2028, 'line separator'],
  [0x2029, 'paragraph separator'],
  [0x2060, 'word joiner'],
  [0x2061, 'invisible function application'],
  [0x2062, 'invisible times'],
  [0x2063, 'invisible separator'],
  [0x2064, 'invisible plus'],
  [0xfeff, 'zero-width no-break space (BOM)'],
]);
// Bidi embeddings, overrides and isolates (the "Trojan Source" characters).
for (let code = 0x202a; code <= 0x202e; code++) INVISIBLE.set(code, 'bidi control');
for (let code = 0x2066; code <= 0x2069; code++) INVISIBLE.set(code, 'bidi isolate');

const CONTROL_NAMES: Readonly<Record<number, string>> = {
  0x00: 'NUL',
  0x09: 'tab',
  0x0a: 'line feed',
  0x0d: 'carriage return',
  0x1b: 'escape',
  0x7f: 'delete',
};

function codePoint(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The first character the text may not hold, as a sentence that names it by code point and position (never echoing
 * the text, which may be a secret); undefined when it is clean. `lines`: tab and line feed are allowed (lists and
 * commands).
 */
export function rawTextProblem(text: string, lines: boolean): string | undefined {
  let position = 0;
  for (const c of text) {
    position++;
    const code = c.codePointAt(0) ?? 0;
    const control = code < 0x20 || (code >= 0x7f && code < 0xa0);
    if (control && !(lines && (code === 0x09 || code === 0x0a))) {
      const name = CONTROL_NAMES[code] ?? 'control character';
      const where = `${codePoint(code)} ${name} at character ${position}`;
      return !lines && (code === 0x0a || code === 0x0d)
        ? `holds a line break (${where}), and it must be one line; remove it (a URL parser would drop it unseen)`
        : `holds a control character (${where}); remove it`;
    }
    const invisible = INVISIBLE.get(code);
    if (invisible)
      return `holds an invisible character (${codePoint(code)} ${invisible} at character ${position}), which logs and the summary would not show; retype it`;
  }
  return undefined;
}
