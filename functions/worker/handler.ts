import { createJsonLogger } from '../shared/logger';
import { runTick } from './run-tick';

const log = createJsonLogger();

export const handler = async (event: unknown) => runTick(event, { log });
