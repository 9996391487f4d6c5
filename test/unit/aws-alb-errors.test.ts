/** AWS errors told apart: bad input, credentials, throttling, AWS unreachable, a conflicting change. */
import { describe, expect, it } from 'vitest';
import { awsAdvice, classifyAwsError } from '../../src/lb/aws-alb/errors.js';

describe('AWS error kinds', () => {
  it.each([
    [{ name: 'RuleNotFound', $fault: 'client', $metadata: { httpStatusCode: 400 } }, 'input'],
    [{ name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 } }, 'input'],
    [{ name: 'TooManyTargetGroups', $fault: 'client', $metadata: { httpStatusCode: 400 } }, 'input'],
    [{ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } }, 'throttle'],
    [{ name: 'Whatever', $fault: 'client', $metadata: { httpStatusCode: 429 } }, 'throttle'],
    [{ name: 'CredentialsProviderError' }, 'credentials'],
    [{ name: 'ExpiredToken', $fault: 'client', $metadata: { httpStatusCode: 403 } }, 'credentials'],
    [{ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }, 'credentials'],
    [{ name: 'Error', code: 'ECONNREFUSED', $metadata: { attempts: 8 } }, 'unreachable'],
    [{ name: 'TimeoutError' }, 'unreachable'],
    [{ name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } }, 'unreachable'],
    [{ name: 'PriorityInUse', $fault: 'client', $metadata: { httpStatusCode: 400 } }, 'conflict'],
    [{ name: 'Odd', $fault: 'client', $metadata: { httpStatusCode: 400 } }, 'other'],
  ])('%o is %s', (error, kind) => {
    expect(classifyAwsError(error)).toBe(kind);
  });

  it('says what to do for each kind', () => {
    expect(awsAdvice('throttle')).toMatch(/run again in a minute/);
    expect(awsAdvice('credentials')).toMatch(/configure-aws-credentials/);
    expect(awsAdvice('unreachable')).toMatch(/run again/);
    expect(awsAdvice('conflict')).toMatch(/at the same time/);
    expect(awsAdvice('input')).toMatch(/load-balancer ARN/);
  });
});
