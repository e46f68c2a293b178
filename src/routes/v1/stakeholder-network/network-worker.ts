import { networkFigures, type NetworkFigures, type NetworkInput } from './network.js'

/** The task a worker thread of the assessment's pool runs (piscina calls the default export). */
export default function run (input: NetworkInput): NetworkFigures {
  return networkFigures(input)
}
