// Apache Curator LeaderLatch participants, driven line by line on stdin, for
// the interop test. Each participant has its own CuratorFramework (its own
// ZooKeeper session), as separate JVM services would.
//
//   args:   <connectString> <latchPath> <sessionTimeoutMs>
//   stdin:  start <id>      start a LeaderLatch participant with that id
//           close <id>      close it (its node is deleted, its session closed)
//           leader          print the leader Curator sees
//           participants    print the participants in Curator's order
//           quit
//   stdout: STARTED <id> <node path> | LEADER <id> | NOTLEADER <id> | CURRENT <id or -> |
//           PARTICIPANTS <id>,<id>,... | CLOSED <id> | ERROR <text>
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class LatchParticipants {
  private static final Map<String, CuratorFramework> clients = new LinkedHashMap<>();
  private static final Map<String, LeaderLatch> latches = new LinkedHashMap<>();

  private static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    String connect = args[0];
    String path = args[1];
    int sessionTimeout = Integer.parseInt(args[2]);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null; ) {
      String[] words = line.trim().split(" ", 2);
      try {
        switch (words[0]) {
          case "start": start(connect, path, sessionTimeout, words[1]); break;
          case "close": close(words[1]); break;
          case "leader": {
            LeaderLatch any = latches.values().iterator().next();
            Participant leader = any.getLeader();
            say("CURRENT " + (leader.isLeader() ? leader.getId() : "-"));
            break;
          }
          case "participants": {
            LeaderLatch any = latches.values().iterator().next();
            List<String> ids = new ArrayList<>();
            for (Participant p : any.getParticipants()) ids.add(p.getId());
            say("PARTICIPANTS " + String.join(",", ids));
            break;
          }
          case "quit":
            for (String id : new ArrayList<>(latches.keySet())) close(id);
            return;
          default: say("ERROR unknown command " + words[0]);
        }
      } catch (Exception e) {
        say("ERROR " + e);
      }
    }
  }

  private static void start(String connect, String path, int sessionTimeout, String id) throws Exception {
    CuratorFramework client = CuratorFrameworkFactory.newClient(connect, sessionTimeout, sessionTimeout, new ExponentialBackoffRetry(100, 5));
    client.start();
    client.blockUntilConnected();
    LeaderLatch latch = new LeaderLatch(client, path, id);
    latch.addListener(new LeaderLatchListener() {
      @Override public void isLeader() { say("LEADER " + id); }
      @Override public void notLeader() { say("NOTLEADER " + id); }
    });
    clients.put(id, client);
    latches.put(id, latch);
    latch.start();
    for (int i = 0; i < 1000 && latch.getOurPath() == null; i++) Thread.sleep(10);
    say("STARTED " + id + " " + latch.getOurPath());
  }

  private static void close(String id) throws Exception {
    LeaderLatch latch = latches.remove(id);
    CuratorFramework client = clients.remove(id);
    if (latch != null) latch.close();
    if (client != null) client.close();
    say("CLOSED " + id);
  }
}
