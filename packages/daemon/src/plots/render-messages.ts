import type { TopLevelSpec } from 'vega-lite'

/** A plot for the render worker to draw. */
export interface RenderRequest {
  id: number
  spec: TopLevelSpec
  /** Names the plot in errors. */
  what: string
}

/** The render worker's answer: the SVG, or the error's name and message. */
export type RenderReply = { id: number, svg: string } | { id: number, error: { name: string, message: string } }
