/** The shared wait: pollUntil and retry end on done, attempts, deadline or the cancel; CallBudget's grace. */
import { describe, expect, it } from 'vitest';
import { backoff, CallBudget, CANCEL_GRACE_MS, fromList, pollUntil, retry } from '../../src/model/poll.js';

describe('pollUntil', () => {
  it('reads until done, pausing between reads', async () => {
    let n = 0;
    const polled = await pollUntil(
      async () => ++n,
      (v) => v === 3,
      { pause: () => 1 },
    );
    expect(polled).toEqual({ done: true, value: 3, reads: 3 });
  });

  it('stops at the attempts or the deadline with the last read', async () => {
    expect(
      await pollUntil(
        async (n) => n,
        () => false,
        fromList([0, 1, 1]),
      ),
    ).toEqual({
      done: false,
      value: 2,
      reads: 3,
      ended: 'attempts',
    });
    const started = Date.now();
    const polled = await pollUntil(
      async () => 0,
      () => false,
      { pause: () => 20, deadline: started + 70 },
    );
    expect(polled).toMatchObject({ done: false, ended: 'deadline' });
    expect(Date.now() - started).toBeLessThan(70);
  });

  it('a cancel ends a long pause at once; a wait begun after it reads once', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('cancelled')), 30);
    const started = Date.now();
    const polled = await pollUntil(
      async () => 0,
      () => false,
      { pause: () => 10_000, signal: cancel.signal },
    );
    expect(polled).toMatchObject({ done: false, reads: 1, ended: 'aborted' });
    expect(Date.now() - started).toBeLessThan(500);
    const after = await pollUntil(
      async () => 0,
      () => false,
      { pause: () => 10_000, signal: cancel.signal },
    );
    expect(after).toMatchObject({ reads: 1, ended: 'aborted' });
  });
});

describe('retry', () => {
  it('retries what retryable accepts, throws anything else at once', async () => {
    let n = 0;
    const value = await retry(
      async () => {
        if (++n < 3) throw new Error('busy');
        return n;
      },
      (e) => (e as Error).message === 'busy',
      { pause: backoff(1, 4), attempts: 5 },
    );
    expect(value).toBe(3);
    let calls = 0;
    const refused = retry(
      async () => {
        calls++;
        throw new Error('refused');
      },
      (e) => (e as Error).message === 'busy',
      { pause: () => 1, attempts: 5 },
    );
    await expect(refused).rejects.toThrow('refused');
    expect(calls).toBe(1);
  });

  it('the cancel stops the retries and says so; the last error is thrown', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('cancelled')), 30);
    let ended = '';
    const started = Date.now();
    const run = retry(
      async (n) => {
        throw new Error(`attempt ${n}`);
      },
      () => true,
      {
        pause: () => 10_000,
        attempts: 5,
        signal: cancel.signal,
        gaveUp: (why, attempts) => (ended = `${why} ${attempts}`),
      },
    );
    await expect(run).rejects.toThrow('attempt 0');
    expect(ended).toBe('aborted 1');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('backoff doubles up to its longest', () => {
    expect([1, 2, 3, 4, 5].map(backoff(100, 500))).toEqual([100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4].map(backoff(250, 5000, 2))).toEqual([250, 250, 500, 500]);
  });
});

describe('CallBudget', () => {
  it('is the cancel until it fires, then one grace deadline shared by every call after', async () => {
    const cancel = new AbortController();
    const budget = new CallBudget(cancel.signal);
    expect(budget.signal()).toBe(cancel.signal);
    cancel.abort(new Error('cancelled'));
    const grace = budget.signal();
    expect(grace?.aborted).toBe(false);
    expect(budget.signal()).toBe(grace);
    await new Promise((r) => setTimeout(r, CANCEL_GRACE_MS + 100));
    expect(grace?.aborted).toBe(true);
    expect(new CallBudget(undefined).signal()).toBeUndefined();
  });
});
