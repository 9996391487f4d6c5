/** User values in Markdown (job summary, pull-request comment): shown as written, never as formatting or links. */

/** Escapes what would format, link, open HTML or break a table cell: \ ` * _ [ ] < > | ~ */
export function md(text: string): string {
  return text.replace(/[\\`*_[\]<>|~]/g, '\\$&');
}

/** A code span that holds the text as it is, backticks included (its fence is longer than any run inside). */
export function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest ? ' ' : '';
  return `${fence}${pad}${text.replace(/\|/g, '\\|')}${pad}${fence}`;
}
