import { describe, expect, it } from 'vitest';
import { splitWeights } from '../../src/plan/weights.js';

const MAX_WEIGHT = 256;

const pool = (prefix: string, n: number, base = 100) =>
  Array.from({ length: n }, (_, i) => ({ id: `app/${prefix}${i + 1}`, base }));

describe('splitWeights', () => {
  it.each([1, 5, 10, 20, 33, 50, 75, 90, 99])(
    'gives %s percent within 0.5 points with 2+2 servers, all weights 0-256',
    (percent) => {
      const split = splitWeights(pool('blue', 2), pool('green', 2), percent, 256);
      expect(Math.abs(split.achieved - percent)).toBeLessThan(0.5);
      for (const w of split.weights.values()) {
        expect(Number.isInteger(w)).toBe(true);
        expect(w).toBeGreaterThanOrEqual(0);
        expect(w).toBeLessThanOrEqual(MAX_WEIGHT);
      }
    },
  );

  it('puts everything on one pool at 0% and 100%', () => {
    const ids = ['app/blue1', 'app/blue2', 'app/green1', 'app/green2'];
    const zero = splitWeights(pool('blue', 2), pool('green', 2), 0, 256);
    expect(ids.map((id) => zero.weights.get(id))).toEqual([256, 256, 0, 0]);
    const full = splitWeights(pool('blue', 2), pool('green', 2), 100, 256);
    expect(ids.map((id) => full.weights.get(id))).toEqual([0, 0, 256, 256]);
    expect(full.achieved).toBe(100);
  });

  it('keeps the stable pool proportions (a server of weight 200 keeps twice the share of one of 100)', () => {
    const split = splitWeights(
      [
        { id: 'a', base: 200 },
        { id: 'b', base: 100 },
      ],
      pool('g', 1),
      10,
      256,
    );
    expect((split.weights.get('a') ?? 0) / (split.weights.get('b') ?? 1)).toBeCloseTo(2, 1);
  });

  it('meets a small share to within a weight step: 0.1% against 8 servers of 256', () => {
    const split = splitWeights(pool('blue', 8), pool('green', 1), 0.1, 256);
    expect(split.weights.get('app/green1')).toBe(2);
    expect(split.achieved).toBeCloseTo(0.1, 1);
  });

  it('never rounds a share above 0 down to no traffic', () => {
    const split = splitWeights(pool('blue', 8), pool('green', 1), 0.01, 256);
    expect(split.weights.get('app/green1')).toBe(1);
  });
});

describe('splitWeights across a canary (one-version-per-user relies on it)', () => {
  it('only ever raises the new pool and lowers the stable one as the share grows', () => {
    for (const [nb, ng] of [
      [2, 2],
      [1, 3],
      [3, 1],
      [4, 4],
    ] as const) {
      let last: ReadonlyMap<string, number> | undefined;
      for (let percent = 1; percent <= 100; percent++) {
        const { weights } = splitWeights(pool('blue', nb), pool('green', ng), percent, MAX_WEIGHT);
        for (const [id, w] of weights) {
          const before = last?.get(id);
          if (before === undefined) continue;
          if (id.includes('green')) expect(w, `${id} at ${percent}%`).toBeGreaterThanOrEqual(before);
          else expect(w, `${id} at ${percent}%`).toBeLessThanOrEqual(before);
        }
        last = weights;
      }
    }
  });
});
