/** Passwords written into URLs (`scheme://user:PASSWORD@host`): found to refuse them, and never echoed. */

/** The passwords in every `scheme://user:password@...` of the text (the userinfo ends at the authority's last '@'). */
export function urlPasswords(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^\s/]*)@/gi)) {
    const userinfo = match[1] ?? '';
    const colon = userinfo.indexOf(':');
    if (colon >= 0 && colon < userinfo.length - 1) found.push(userinfo.slice(colon + 1));
  }
  return found;
}

/** The text with every URL password in it replaced by `***`. */
export function redactUrlPasswords(text: string): string {
  let result = text;
  for (const password of urlPasswords(text).sort((a, b) => b.length - a.length))
    result = result.replaceAll(password, '***');
  return result;
}
