import Glibc

/// A failed system call, named, with its errno: the one place an errno becomes words.
package struct SystemError: Error, Equatable, CustomStringConvertible {
    package let call: String
    package let errno: Int32

    package init(_ call: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.errno = errno
    }

    package var description: String {
        "\(call): \(String(cString: strerror(errno)))"
    }
}
