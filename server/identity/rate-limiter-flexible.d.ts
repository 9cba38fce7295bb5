/**
 * Types for the two rate-limiter-flexible modules rate-limits.ts imports by path. The package's index
 * loads every limiter it ships (Redis, Mongo, Postgres, DynamoDB, …) for a server that uses only the
 * memory one (about 1.5 MB of RSS in the server); each file below is one CommonJS class
 * (`module.exports = Class`).
 */
declare module 'rate-limiter-flexible/lib/RateLimiterMemory.js' {
  import { RateLimiterMemory } from 'rate-limiter-flexible'
  export default RateLimiterMemory
}
declare module 'rate-limiter-flexible/lib/RateLimiterRes.js' {
  import { RateLimiterRes } from 'rate-limiter-flexible'
  export default RateLimiterRes
}
