import type { Signal } from '../signal.js'
import { concurrentNetworks } from './concurrent-networks.js'
import { failedLoginBurst } from './failed-login-burst.js'
import { impossibleTravel } from './impossible-travel.js'
import { newDevice } from './new-device.js'
import { newNetwork } from './new-network.js'
import { refreshReuse } from './refresh-reuse.js'
import { sessionBurst } from './session-burst.js'

export const ALL_SIGNALS: Signal[] = [newDevice, newNetwork, concurrentNetworks, impossibleTravel, failedLoginBurst, refreshReuse, sessionBurst]
