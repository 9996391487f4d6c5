import { describe, expect, it } from 'vitest';
import { code, md } from '../../src/report/markdown.js';
import { headline } from '../../src/report/summary.js';

describe('user values in Markdown', () => {
  it('escape what would format, link, open HTML or split a table', () => {
    expect(md('**[v1](https://evil.example)** <img src=x> a|b ~~x~~ _y_ `z`')).toBe(
      '\\*\\*\\[v1\\](https://evil.example)\\*\\* \\<img src=x\\> a\\|b \\~\\~x\\~\\~ \\_y\\_ \\`z\\`',
    );
    expect(headline('failed', 'app/web_1: **no**')).toContain('app/web\\_1: \\*\\*no\\*\\*');
  });

  it('code spans hold backticks as written', () => {
    expect(code('v1.2')).toBe('`v1.2`');
    expect(code('v1`**x**`')).toBe('`` v1`**x**` ``');
    expect(code('a|b')).toBe('`a\\|b`');
  });
});
