import { describe, expect, it } from 'vitest';
import { SigV4Signer } from '../../../functions/shared/sigv4';
import { amzDateInstant, sdkAuthorization } from '../../support/sdk-signature';

const WITH_TOKEN = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'secret/EXAMPLE+key',
  sessionToken: 'token==',
};
const WITHOUT_TOKEN = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'other-secret' };
const BODY = '{"pollerId":"p1","seq":7,"scheduledAt":"2026-11-24T01:00:00.000Z"}';

/** Signs with ours, then asks the SDK's signer for the same request as it would arrive. */
async function signBoth(
  signer: SigV4Signer,
  credentials: typeof WITH_TOKEN | typeof WITHOUT_TOKEN,
  path: string,
  host: string,
  nowMs: number,
) {
  const headers = signer.sign(
    { method: 'POST', path, headers: { host, 'x-amz-invocation-type': 'Event' }, body: BODY },
    credentials,
    nowMs,
  );
  const { authorization = '', ...sent } = headers;
  const expected = await sdkAuthorization({
    credentials,
    region: signer.region,
    service: signer.service,
    path,
    headers: sent,
    body: BODY,
    signingDate: amzDateInstant(sent['x-amz-date'] ?? ''),
  });
  return { headers, authorization, expected };
}

describe('SigV4Signer', () => {
  it.each([
    [
      'a name, a session token',
      WITH_TOKEN,
      '/2015-03-31/functions/worker/invocations',
      'lambda.eu-west-1.amazonaws.com',
    ],
    [
      'a full ARN with $LATEST (encoded once as sent, once more to sign), no session token',
      WITHOUT_TOKEN,
      `/2015-03-31/functions/${encodeURIComponent('arn:aws:lambda:eu-west-1:123456789012:function:w:$LATEST')}/invocations`,
      'lambda.eu-west-1.amazonaws.com',
    ],
    [
      'an endpoint with a port and a path',
      WITH_TOKEN,
      '/proxy/2015-03-31/functions/w%2Bx/invocations',
      '127.0.0.1:4010',
    ],
  ])('signs %s as the SDK signer does', async (_case, credentials, path, host) => {
    // prepare
    const signer = new SigV4Signer('eu-west-1', 'lambda');

    // act
    const { headers, authorization, expected } = await signBoth(
      signer,
      credentials,
      path,
      host,
      Date.parse('2026-11-24T06:50:46.789Z'),
    );

    // assess
    expect(authorization).toBe(expected);
    expect(headers['x-amz-date']).toBe('20261124T065046Z');
    expect(headers['x-amz-security-token']).toBe(
      'sessionToken' in credentials ? credentials.sessionToken : undefined,
    );
    expect(authorization).toContain(
      `Credential=${credentials.accessKeyId}/20261124/eu-west-1/lambda/aws4_request`,
    );
  });

  it('makes a new signing key for a new day and for rotated credentials', async () => {
    // prepare: one signer kept across midnight and a credential rotation, as a controller keeps it
    const signer = new SigV4Signer('us-east-1', 'lambda');
    const path = '/2015-03-31/functions/worker/invocations';
    const host = 'lambda.us-east-1.amazonaws.com';

    // act
    const beforeMidnight = await signBoth(
      signer,
      WITH_TOKEN,
      path,
      host,
      Date.parse('2026-11-24T23:59:59.999Z'),
    );
    const afterMidnight = await signBoth(
      signer,
      WITH_TOKEN,
      path,
      host,
      Date.parse('2026-11-25T00:00:00.001Z'),
    );
    const rotated = await signBoth(signer, WITHOUT_TOKEN, path, host, Date.parse('2026-11-25T00:00:01.000Z'));

    // assess
    for (const signed of [beforeMidnight, afterMidnight, rotated])
      expect(signed.authorization).toBe(signed.expected);
    expect(afterMidnight.authorization).toContain('/20261125/us-east-1/');
    expect(rotated.authorization).toContain('Credential=AKIDOTHER/');
  });
});
