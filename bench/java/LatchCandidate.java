/*
 * The Curator side of `pnpm bench:peers`: COUNT LeaderLatch candidates on one
 * latch path, each with its own CuratorFramework (its own ZooKeeper session),
 * in one JVM. Prints "leading I" when candidate I becomes leader. A line
 * "resign" on stdin closes the latches that lead right now (the others keep
 * waiting); SIGTERM closes every latch and client, then the JVM exits.
 *
 *   java LatchCandidate CONNECT LATCH_PATH SESSION_TIMEOUT_MS COUNT
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class LatchCandidate {
  private static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    String connect = args[0];
    String path = args[1];
    int sessionTimeoutMs = Integer.parseInt(args[2]);
    int count = Integer.parseInt(args[3]);
    List<CuratorFramework> clients = new ArrayList<>();
    List<LeaderLatch> latches = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      CuratorFramework client = CuratorFrameworkFactory.newClient(connect, sessionTimeoutMs, 5000, new ExponentialBackoffRetry(100, 3));
      client.start();
      final int index = i;
      LeaderLatch latch = new LeaderLatch(client, path, "curator-" + ProcessHandle.current().pid() + "-" + i);
      latch.addListener(new LeaderLatchListener() {
        @Override public void isLeader() { say("leading " + index); }
        @Override public void notLeader() {}
      });
      clients.add(client);
      latches.add(latch);
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (LeaderLatch latch : latches) {
        try { latch.close(); } catch (Exception ignored) { /* already closed */ }
      }
      for (CuratorFramework client : clients) client.close();
    }));
    for (LeaderLatch latch : latches) latch.start();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    String line;
    while ((line = in.readLine()) != null) {
      if (!line.trim().equals("resign")) continue;
      for (LeaderLatch latch : latches) {
        if (latch.getState() == LeaderLatch.State.STARTED && latch.hasLeadership()) latch.close();
      }
    }
    // stdin closed: our parent is gone; wait for SIGTERM like a service would.
    Thread.currentThread().join();
  }
}
