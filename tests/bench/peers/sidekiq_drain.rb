# The Sidekiq side of tests/bench/drain: Debian's ruby-sidekiq (6.4), Redis
# from REDIS_URL (the bench's Redis, a database of its own).
#
#   ruby sidekiq_drain.rb fill N            push_bulk N no-op jobs, in slices
#                                           of 1,000, then exit (untimed)
#   WHARF_DRAIN_N=N sidekiq -c 10 -r ./sidekiq_drain.rb
#                                           one process draining them
#
# The clock. Sidekiq's own counters cannot time a drain: the processed
# count lives in the process and reaches Redis only with the heartbeat,
# every few seconds, and the queue's length drops when a job is fetched, not
# when it is done. So the job counts itself, in the process: the no-op
# job's only work is to add one to a counter under a mutex (well under a
# microsecond beside Sidekiq's own work per job), and the job that makes the
# count reach 5% of N, then N, prints the marks of wharf-bench's drain modes
# (tests/bench/drain.c): "mark <done> <monotonic us>", then a summary line.
# That is fair: Sidekiq writes nothing to Redis for a job after its BRPOP
# has taken it (basic fetch; a job's acknowledge is a no-op), so a job whose
# perform has returned is as done as it will ever be.
#
# Logging is set to WARN: by default Sidekiq logs two lines per job (start,
# done), which wharf's worker does not do for a successful job. Leaving
# them out favours Sidekiq, the conservative choice for this comparison.
require "sidekiq"

$stdout.sync = true
# Debian pairs Sidekiq 6.4 with redis-rb 4.8, which prints a deprecation
# warning for every BRPOP in the form Sidekiq 6.4 sends it: a line per job
# that would slow Sidekiq down for nothing.
Redis.silence_deprecations = true

Sidekiq.configure_server { |config| config.logger.level = Logger::WARN }

# Counts finished jobs and prints the drain's marks.
module WharfDrainMarks
  @lock = Mutex.new
  @done = 0
  @done5 = -1
  @t5 = 0

  def self.mono_us = Process.clock_gettime(Process::CLOCK_MONOTONIC, :microsecond)

  def self.job_done
    n = (@n ||= Integer(ENV.fetch("WHARF_DRAIN_N")))
    done = @lock.synchronize { @done += 1 }
    if done == (n + 19) / 20
      @done5, @t5 = done, mono_us
      puts "mark #{done} #{@t5}"
    end
    return unless done == n

    t = mono_us
    puts "mark #{done} #{t}"
    s = (t - @t5) / 1e6
    puts format("sidekiq n=%d counted=%d seconds=%.3f rate=%.0f", n, n - @done5, s, (n - @done5) / s)
  end
end

# The no-op job.
class WharfDrainNoop
  include Sidekiq::Worker

  def perform(_i)
    WharfDrainMarks.job_done
  end
end

if $PROGRAM_NAME == __FILE__
  abort "usage: ruby sidekiq_drain.rb fill N" unless ARGV[0] == "fill" && ARGV[1].to_i.positive?
  n = ARGV[1].to_i
  (0...n).each_slice(1000) do |slice|
    Sidekiq::Client.push_bulk("class" => WharfDrainNoop, "args" => slice.map { |i| [i] })
  end
  puts "sidekiq-fill n=#{n}"
end
