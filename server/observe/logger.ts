import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

/**
 * JSON logs. Anything that could hold a secret is redacted by path as a second line of defence;
 * the first is that no code path logs a token, password, proof or code in the first place.
 * `err.rawPacket` holds the bytes of a request Node's HTTP parser refused, headers included
 * (fastify logs such errors at trace).
 */
export const REDACT_PATHS = [
  'token', 'accessToken', 'refreshToken', 'password', 'current', 'next', 'code', 'mfaToken', 'secret', 'device_code', 'user_code',
  'authorization', 'dpop', 'req.headers.authorization', 'req.headers.dpop', 'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]', 'err.rawPacket', '*.token', '*.password', '*.refreshToken', '*.accessToken'
]

export const createLogger = (level: string, destination?: DestinationStream): Logger =>
  pino(
    {
      level,
      base: { service: 'session-sync' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime
    },
    destination ?? pino.destination({ sync: false })
  )
