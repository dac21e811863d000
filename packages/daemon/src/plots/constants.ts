/** The revision name that means the working tree, as in DVC (`dvc plots diff HEAD workspace`). */
export const WORKSPACE = 'workspace'

/**
 * Largest plot data file read (16 MiB). Data files come from git and from
 * peers, and are parsed on the daemon's event loop: a 16 MiB CSV parses in
 * about a quarter of a second, and real training logs are kilobytes.
 */
export const MAX_PLOT_FILE_BYTES = 16 * 1024 * 1024

/**
 * Most data points one plot draws, every revision and series together. Each
 * point of a line with points is a path in the SVG: 10,000 points made a
 * 3 MB SVG in 0.6 s here, 100,000 a 29 MB SVG in 4 s that blocked the daemon
 * all that time. A longer log is refused with a message, never cut short.
 */
export const MAX_PLOT_POINTS = 50_000

/** Most data points one page draws, all plots together (about 20 s of rendering at most). */
export const MAX_PAGE_POINTS = 200_000

/** Most revisions one `plots diff` overlays: the colours of one legend stay readable. */
export const MAX_REVISIONS = 10

/** Drawing size of an x/y plot and of a confusion matrix (one per revision), in SVG pixels. */
export const PLOT_WIDTH = 480
export const PLOT_HEIGHT = 300
export const CONFUSION_SIZE = 300

/** File endings of image plots, which DVC shows as they are and mlp skips. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.gif', '.svg']
