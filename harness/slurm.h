/*
 * harness/slurm.h — `cannoli slurm CONFIG --shards N [--partition P]
 * [--time T] [--cpus-per-task C] [--mem M] [--out DIR] [--cache-dir DIR]
 * [--submit]`: a sweep as a Slurm job array.
 *
 * Writes, under results/<name>/slurm/ (or DIR/slurm/):
 *   sweep.sbatch  a job array 1-N; task K runs `cannoli run CONFIG --shard
 *                 auto` (K from SLURM_ARRAY_TASK_ID, see shard.h) with
 *                 OMP_NUM_THREADS = the task's CPUs, so the build uses them;
 *                 all tasks append to the one results file (results.h locks
 *                 it), on the file system shared by the nodes;
 *   merge.sbatch  `cannoli merge` of that folder with the config (lists
 *                 points no task wrote) and the plot; submitted with
 *                 --dependency=afterok:<array job>;
 *   logs/         one log per array task (sweep-<job>_<task>.log) and the
 *                 merge's.
 * Paths in the scripts are absolute (binary, config, working folder), so
 * they run from any node that sees the same file system. With --submit both
 * are submitted with `sbatch --parsable` and the job ids printed.
 */
#ifndef CN_HARNESS_SLURM_H
#define CN_HARNESS_SLURM_H

#include <stddef.h>

/* From the command's arguments: 0, 1 (failure, err set), 2 (usage, err set). */
int cn_slurm_main(int argc, char **argv, char *err, size_t errlen);

#endif
