/** The DynamoDB client package, as `import('@aws-sdk/client-dynamodb')` gives it. */
export type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');

/**
 * Loads the DynamoDB client package when it is first needed rather than at init: requiring it costs about 60 ms of
 * CPU (most of a second at 128 MB's share), which a cold worker would otherwise spend before its first tick's work
 * instead of after it. In a CommonJS bundle (the inline template, a user's esbuild or NodejsFunction bundle) it is a
 * plain require, which finds the runtime's SDK as the bundle's other requires do (an ES `import()` would not look in
 * the paths Lambda gives CommonJS); in ES modules (the tests) an `import()`. Node keeps the module: later calls pay
 * nothing.
 */
export async function loadDynamoDbSdk(): Promise<DynamoDbSdk> {
  if (typeof require === 'function') return require('@aws-sdk/client-dynamodb') as DynamoDbSdk;
  return import('@aws-sdk/client-dynamodb');
}
