// Named imports: a default import of a built-in costs the bundle esbuild's ESM interop helpers.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ResponseNotDeliveredError } from '../shared/errors';

/** The body CloudFormation expects at a custom resource's pre-signed ResponseURL. */
export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho?: boolean;
  readonly Data?: Readonly<Record<string, string>>;
}

export type SendResponse = (responseUrl: string, response: CfnResponse) => Promise<void>;

/** A response that never arrives leaves the stack waiting for an hour: give up on a stuck PUT well before that. */
export const RESPONSE_TIMEOUT_MS = 10_000;

/** CloudFormation rejects responses over 4 KB; a Reason is a message for a human, so cut it short. */
export const MAX_REASON_LENGTH = 1_000;

/**
 * PUTs the response to the pre-signed URL (https on AWS; http lets the tests use a local server). The URL is
 * signed for an empty Content-Type, so that header must be sent empty.
 */
export function putResponse(
  responseUrl: string,
  response: CfnResponse,
  timeoutMs: number = RESPONSE_TIMEOUT_MS,
): Promise<void> {
  const url = new URL(responseUrl);
  const body = JSON.stringify(response);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (reply) => {
        reply.resume();
        reply.on('end', () => {
          const status = reply.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new ResponseNotDeliveredError(`the response URL answered HTTP ${status}`));
        });
      },
    );
    request.on('timeout', () =>
      request.destroy(new ResponseNotDeliveredError(`no answer within ${timeoutMs} ms`)),
    );
    request.on('error', reject);
    request.end(body);
  });
}

export function shortenReason(reason: string): string {
  return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}…` : reason;
}
