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

/** Most columns of a CSV/TSV record: a wider header would make every row an object of that many keys. */
export const MAX_COLUMNS = 10_000

/** Longest CSV/TSV cell, in characters: values are numbers and short class names, and a longer one reaches the legend and the SVG. */
export const MAX_CELL_CHARS = 4096

/** Deepest nesting of a JSON/YAML plot data file: records are flat, and deeper values reach code that recurses. */
export const MAX_NESTING = 64

/** Longest class name (a nominal axis value) drawn, in characters. */
export const MAX_CLASS_CHARS = 200

/**
 * Smallest and largest magnitude of a drawn number (0 aside): Vega's scales
 * fail with an internal error on denormals (5e-324) and near the double's limits.
 */
export const MIN_MAGNITUDE = 1e-300
export const MAX_MAGNITUDE = 1e300

/**
 * Most bytes of data files one page reads, every file at every revision
 * together (64 MiB). A commit of 300 KB can declare 400 plots of one 16 MiB
 * file (git stores it once): each plot reads it again, and without this cap
 * the daemon ran out of memory holding them.
 */
export const MAX_PAGE_DATA_BYTES = 64 * 1024 * 1024

/** Most plots one page draws: each is an SVG of its own, drawn one after another. */
export const MAX_PAGE_PLOTS = 100

/** Most series one plot overlays, every revision together: the legend stays readable. */
export const MAX_PLOT_SERIES = 50

/** Most classes of a confusion matrix (on each axis): 1,500 took 93 s and 2.2 GB to draw. */
export const MAX_CONFUSION_CLASSES = 200

/**
 * Most cells of one CSV/TSV file (header included). Each cell becomes a
 * property of a row object: 16 MiB of `1,` is 8 million of them, hundreds of
 * MB of heap, where 50,000 records of 40 columns are 2 million.
 */
export const MAX_FILE_CELLS = 2_000_000
