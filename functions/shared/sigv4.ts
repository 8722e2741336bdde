import { createHmac, hash } from 'node:crypto';

/**
 * AWS Signature Version 4 (header form) for the one request a tick sends. The SDK's signer allocates ~27 KB a
 * signature (a request clone, header maps, promise chains; measured with `--min-semi-space-size`); InvokeApi.sign with this one ~10 KB,
 * and garbage is what a small shard controller pays for in collections on the tick path (docs/design/fleet.md).
 * Same canonical form as the SDK's signer for services other than S3: the path URI-encoded once more, every
 * header given signed, the payload's SHA-256 sent as x-amz-content-sha256. Header values are signed as given (SigV4
 * folds spaces in values; none of ours has any: a host, a date, hex, a token, an invocation type).
 */

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface RequestToSign {
  readonly method: string;
  /** As sent: already URI-encoded once. */
  readonly path: string;
  /** Lower-case names, `host` included. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();
/** encodeURIComponent plus the characters RFC 3986 reserves that it leaves alone, as SigV4 wants. */
const escapeUri = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

/** Signs for one region and service; keeps the day's signing key (four HMACs) until the day or the secret changes. */
export class SigV4Signer {
  #key: { readonly scope: string; readonly secret: string; readonly key: Buffer } | undefined;

  constructor(
    readonly region: string,
    readonly service: string,
  ) {}

  /** The request's headers with x-amz-date, x-amz-content-sha256, the session token and authorization added. */
  sign(request: RequestToSign, credentials: SigningCredentials, nowMs: number): Record<string, string> {
    const amzDate = new Date(nowMs).toISOString().replace(/[-:]|\.\d+/g, '');
    const scope = `${amzDate.slice(0, 8)}/${this.region}/${this.service}/aws4_request`;
    const headers: Record<string, string> = {
      ...request.headers,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': hash('sha256', request.body),
    };
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    const names = Object.keys(headers).sort();
    const signedNames = names.join(';');
    const canonicalRequest = `${request.method}\n${escapeUri(request.path).replace(/%2F/g, '/')}\n\n${names
      .map((name) => `${name}:${headers[name]}\n`)
      .join('')}\n${signedNames}\n${headers['x-amz-content-sha256']}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonicalRequest)}`;
    const signature = createHmac('sha256', this.#signingKey(scope, credentials.secretAccessKey))
      .update(stringToSign)
      .digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedNames}, Signature=${signature}`;
    return headers;
  }

  #signingKey(scope: string, secret: string): Buffer {
    if (this.#key?.scope !== scope || this.#key.secret !== secret) {
      let key = hmac(`AWS4${secret}`, scope.slice(0, 8));
      for (const part of [this.region, this.service, 'aws4_request']) key = hmac(key, part);
      this.#key = { scope, secret, key };
    }
    return this.#key.key;
  }
}
