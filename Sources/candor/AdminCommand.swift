import ArgumentParser
import CandorCore
import CandorServer
import CandorStore
import Foundation

/// `candor admin`: operator accounts for the console.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "admin", abstract: "Operator accounts for the console.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an operator. The password is read from standard input when it is piped; otherwise one is generated and printed once.")
        @OptionGroup var options: StoreOptions

        @Option(help: "The operator's e-mail address (their sign-in name).")
        var email: String

        @Option(help: "The team the operator acts for (its roles and purposes apply), e.g. it.")
        var team: String

        @Option(help: "The operator's display name.")
        var name: String

        @Option(help: "The bcrypt cost (default 12; lower only for tests).")
        var bcryptCost: UInt8 = 12

        func run() async throws {
            let config = try await options.resolve()
            let store = try await openStore(config, logger: makeLogger("candor"))
            var password: String
            var generated = false
            if isatty(FileHandle.standardInput.fileDescriptor) == 0, let line = readLine(strippingNewline: true), !line.isEmpty {
                password = line
            } else {
                password = OperatorPasswords.generate()
                generated = true
            }
            do {
                let created = try await OperatorPasswords.createOperator(store, email: email, name: name, team: team, password: password, cost: bcryptCost)
                print("created operator \(created.id) (\(created.email), team \(created.team))")
                if generated { print("password (shown once): \(password)") }
            } catch let error as CandorError {
                print("not created: " + (error.errors.isEmpty ? error.detail : error.errors.map { "\($0.field) \($0.message)" }.joined(separator: "; ")))
                throw ExitCode(1)
            }
            password = ""
            try await store.database.close()
        }
    }
}
