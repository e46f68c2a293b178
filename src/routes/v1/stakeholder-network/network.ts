import { UndirectedGraph } from 'graphology'
import { connectedComponents } from 'graphology-components'
import { betweenness } from 'graphology-metrics/centrality/index.js'

/**
 * The network as the graph computations need it: stakeholders are numbered 0 … order − 1, and `ties` holds
 * the two ends of each tie, one pair after the other. Typed arrays cross to a worker thread without a copy.
 */
export interface NetworkInput {
  order: number
  ties: Int32Array
}

export interface NetworkFigures {
  /** Stakeholders without any tie. */
  isolated: number[]
  /** The connected components of the others (two stakeholders or more), in no particular order. */
  components: number[][]
  /** Each stakeholder's normalised betweenness centrality. */
  betweenness: Float64Array
}

/**
 * Isolated stakeholders, connected components and betweenness centrality, by graphology and its standard
 * library. Betweenness is unweighted (a tie is a tie: strength is not a distance, and a weak tie still
 * connects) and normalised by the (n − 1)(n − 2)/2 pairs of the others, n counting every stakeholder.
 * It costs time in proportion to stakeholders × ties, which is why it runs in a worker thread.
 */
export function networkFigures ({ order, ties }: NetworkInput): NetworkFigures {
  const graph = new UndirectedGraph()
  for (let i = 0; i < order; i++) graph.addNode(String(i))
  for (let i = 0; i + 1 < ties.length; i += 2) graph.addEdge(String(ties[i]), String(ties[i + 1]))

  const isolated: number[] = []
  graph.forEachNode((node) => { if (graph.degree(node) === 0) isolated.push(Number(node)) })
  const components = connectedComponents(graph).filter((nodes) => nodes.length > 1).map((nodes) => nodes.map(Number))

  const values = new Float64Array(order)
  if (order > 2 && graph.size > 0) {
    const centrality = betweenness(graph, { getEdgeWeight: null, normalized: true })
    for (const [node, value] of Object.entries(centrality)) values[Number(node)] = value
  }
  return { isolated, components, betweenness: values }
}
