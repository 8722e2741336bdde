import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData) =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** The SDK signer's hash interface on node:crypto (an HMAC when given a secret). */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

export interface SdkSignatureInput {
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly region: string;
  readonly service: string;
  /** What the request carried: its path as sent, the headers it names signed (host included), its body. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** x-amz-date's instant. */
  readonly signingDate: Date;
}

/** The authorization header the SDK's own SigV4 signer computes for a request: the independent check of ours. */
export async function sdkAuthorization(input: SdkSignatureInput): Promise<string | undefined> {
  const verifier = new SignatureV4({
    credentials: input.credentials,
    region: input.region,
    service: input.service,
    sha256: NodeSha256,
  });
  const [hostname = '', port] = (input.headers.host ?? '').split(':');
  // Without our payload hash: the SDK's signer would take it as given; without it, it hashes the body itself.
  const { 'x-amz-content-sha256': _ours, ...headers } = input.headers;
  const signed = await verifier.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname,
      port: port === undefined ? undefined : Number(port),
      path: input.path,
      query: {},
      headers,
      body: input.body,
    },
    { signingDate: input.signingDate },
  );
  return signed.headers.authorization;
}

/** x-amz-date (20261124T065046Z) → its instant. */
export const amzDateInstant = (amzDate: string) =>
  new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
