/** ALB server ids, parsed in one place. */
import { describe, expect, it } from 'vitest';
import { groupName, targetDescription, targetIdOf, targetOf } from '../../src/lb/aws-alb/ids.js';

describe('ALB server ids', () => {
  it('GROUP/ID:PORT splits into its group, its target and the target description', () => {
    expect(groupName('shop-blue/10.0.1.5:8080')).toBe('shop-blue');
    expect(targetOf('shop-blue/10.0.1.5:8080')).toBe('10.0.1.5:8080');
    expect(targetDescription('10.0.1.5:8080')).toEqual({ Id: '10.0.1.5', Port: 8080 });
    expect(targetDescription('i-0abc123def4567890:80')).toEqual({ Id: 'i-0abc123def4567890', Port: 80 });
  });

  it('a target from DescribeTargetHealth, with what is missing shown', () => {
    expect(targetIdOf({ Target: { Id: '10.0.1.5', Port: 8080 } })).toBe('10.0.1.5:8080');
    expect(targetIdOf({})).toBe('?:0');
  });
});
