/** An input's raw text: line breaks, control and invisible characters named by code point and position. */
import { describe, expect, it } from 'vitest';
import { rawTextProblem } from '../../src/model/raw-text.js';

describe('rawTextProblem', () => {
  it('passes clean text, and tab and newline where the input has lines', () => {
    expect(rawTextProblem('http://{address}/health', false)).toBeUndefined();
    expect(rawTextProblem('blue=app/blue*\ngreen=app/green*\t', true)).toBeUndefined();
    expect(rawTextProblem('café ünïcode', false)).toBeUndefined();
  });

  it('names CR, LF, tab, escape, DEL and C1 controls', () => {
    expect(rawTextProblem('a\r\nb', false)).toBe(
      'holds a line break (U+000D carriage return at character 2), and it must be one line; remove it (a URL parser would drop it unseen)',
    );
    expect(rawTextProblem('a\nb', false)).toMatch(/U\+000A line feed at character 2/);
    expect(rawTextProblem('a\r\nb', true)).toMatch(/^holds a control character \(U\+000D carriage return/);
    expect(rawTextProblem('a\tb', false)).toMatch(/^holds a control character \(U\+0009 tab at character 2\)/);
    expect(rawTextProblem('\u001b[2K', true)).toMatch(/U\+001B escape at character 1/);
    expect(rawTextProblem('x\u007f', false)).toMatch(/U\+007F delete/);
    expect(rawTextProblem('x\u0085', false)).toMatch(/U\+0085 control character/);
  });

  it('names characters that show as nothing', () => {
    expect(rawTextProblem('prod\u200buction', false)).toBe(
      'holds an invisible character (U+200B zero-width space at character 5), which logs and the summary would not show; retype it',
    );
    expect(rawTextProblem('\ufeffprod', true)).toMatch(/U\+FEFF zero-width no-break space \(BOM\)/);
    expect(rawTextProblem('a\u202eb', true)).toMatch(/U\+202E bidi control/);
    expect(rawTextProblem('a\u2067b', true)).toMatch(/U\+2067 bidi isolate/);
    expect(rawTextProblem('🙂\u200d', false)).toMatch(/at character 2/);
  });
});
