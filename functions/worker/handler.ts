import { tickHandler } from '../worker-kit/tick-handler';
import { fetchPayloadUrl } from './fetch-payload-url';

export const handler = tickHandler((tick) => fetchPayloadUrl(tick));
