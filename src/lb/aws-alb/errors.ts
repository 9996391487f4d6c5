/**
 * What an AWS error means for the user, pure: bad input (an ARN or a configuration AWS refused), credentials,
 * throttling, AWS unreachable, or a conflicting change; each with what to do about it.
 */

export type AwsErrorKind = 'input' | 'credentials' | 'throttle' | 'unreachable' | 'conflict' | 'other';

/** The fields of an SDK v3 error (or a Node network error) that tell its kind. */
export interface AwsErrorLike {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $fault?: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly attempts?: number };
}

const NAMES: readonly [AwsErrorKind, RegExp][] = [
  [
    'credentials',
    /^(CredentialsProviderError|ExpiredToken(Exception)?|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|InvalidSignatureException|IncompleteSignature|MissingAuthenticationToken|AccessDenied(Exception)?|UnauthorizedOperation|AuthFailure|InvalidAccessKeyId)$/,
  ],
  [
    'throttle',
    /^(Throttling(Exception)?|ThrottledException|RequestLimitExceeded|TooManyRequestsException|RequestThrottled(Exception)?|SlowDown)$/,
  ],
  [
    'unreachable',
    /^(TimeoutError|RequestTimeout(Exception)?|NetworkingError|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|InternalFailure|InternalError|ServiceUnavailable(Exception)?)$/,
  ],
  ['conflict', /^(PriorityInUse|ResourceInUse|DuplicateTargetGroupName|DuplicateTagKeys|ConcurrentModification)$/],
  [
    'input',
    /NotFound$|^(ValidationError|InvalidTarget|InvalidConfigurationRequest|IncompatibleProtocols|OperationNotPermitted|TooMany\w+|InvalidParameter\w*|UnsupportedProtocol)$/,
  ],
];

export function classifyAwsError(error: AwsErrorLike): AwsErrorKind {
  for (const name of [error.name, error.code]) {
    const found = NAMES.find(([, pattern]) => name !== undefined && pattern.test(name));
    if (found) return found[0];
  }
  const status = error.$metadata?.httpStatusCode;
  if (status === 429) return 'throttle';
  if (status !== undefined && status >= 500) return 'unreachable';
  if (status === 401 || status === 403) return 'credentials';
  // No HTTP status at all: the request never got an answer.
  if (status === undefined && error.$fault === undefined) return 'unreachable';
  return 'other';
}

/** What to do, in a sentence, for an error of this kind. */
export function awsAdvice(kind: AwsErrorKind): string {
  switch (kind) {
    case 'input':
      return 'AWS refused what it was given: check the load-balancer ARN and the listener, rule and target groups it names';
    case 'credentials':
      return "the step's AWS credentials are missing, expired or lack a permission: run aws-actions/configure-aws-credentials before it and check the role's policy (docs/aws-alb.md)";
    case 'throttle':
      return 'AWS throttled the calls (the SDK retried with backoff): run again in a minute, or lower the rate of other ELBv2 callers on this account';
    case 'unreachable':
      return "AWS's API did not answer (network, endpoint or an AWS outage): run again";
    case 'conflict':
      return 'another change to the same listener, rule or target group was made at the same time (another run or a person): run again once it is done';
    case 'other':
      return 'see the AWS error';
  }
}
